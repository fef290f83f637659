"""The IDE's Tests panel in a real Chromium against a live platform: two cases for a Python
program, one right and one wrong, run with one `judge` frame; one passes, the other fails with
its checker message and diff; the cases are still there after a reload (they are the project
file .coderunner/tests.json). A C program that does not compile shows the compiler's output
with its location as a link and a marker, and Stop ends a judgement that runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, WebSocket, expect

from tests.e2e.conftest import STEP_MS, Ide

DOUBLE = "print(int(input()) * 2)\n"
BROKEN_C = "#include <stdio.h>\n\nint main(void) {\n    return missing;\n}\n"
SLEEPS = "import time\n\ntime.sleep(60)\n"
Q, E = "\N{LEFT SINGLE QUOTATION MARK}", "\N{RIGHT SINGLE QUOTATION MARK}"  # GCC's quotes
FITS = """() => [document.documentElement, ...document.querySelectorAll('#tests-box *')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'auto')
  .map(e => e.className || e.tagName)"""
"""What is wider than its box (and does not scroll): nothing, on a 1280 by 800 window."""
STORED_TESTS = """async () => {
  const id = JSON.parse(localStorage.getItem("coderunner.workspace.v1")).id;
  return (await fetch(`/api/v1/workspaces/${id}/files/.coderunner/tests.json`)).json();
}"""
CURSOR = "() => { const p = monaco.editor.getEditors()[0].getPosition(); " \
         "return [p.lineNumber, p.column]; }"


def judge_frames(ide: Ide) -> list[dict[str, Any]]:
    """Every `judge` frame the page sends from now on."""
    frames: list[dict[str, Any]] = []

    def watch(socket: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if frame.get("type") == "judge":
                frames.append(frame)
        socket.on("framesent", sent)

    ide.page.on("websocket", watch)
    return frames


def open_tests(ide: Ide) -> None:
    ide.page.locator("#tests-summary").click()
    expect(ide.page.locator("#tests-box")).to_have_attribute("open", "")


def add_test(ide: Ide, number: int, name: str, stdin: str, expected: str) -> None:
    ide.page.get_by_role("button", name="+ Test").click()
    label = f"test {number}"
    expect(ide.page.get_by_label(f"Name of {label}")).to_be_focused()
    ide.page.get_by_label(f"Name of {label}").fill(name)
    ide.page.get_by_label(f"Input of {label}").fill(stdin)
    ide.page.get_by_label(f"Expected output of {label}").fill(expected)


def row(ide: Ide, name: str) -> Locator:
    return ide.page.locator(f'#tests-box li.test-case[data-name="{name}"]')


def test_two_cases_one_passes_one_fails_with_its_diff_and_they_survive_a_reload(
    ide: Ide, tmp_path: Path,
) -> None:
    frames = judge_frames(ide)
    ide.page.set_viewport_size({"width": 1280, "height": 800})
    ide.open()
    ide.use_template("hello-python")
    ide.set_code(DOUBLE)
    open_tests(ide)
    add_test(ide, 1, "doubles", "2\n", "4\n")
    add_test(ide, 2, "wrong", "3\n", "7\n")
    ide.page.get_by_label("Compare").select_option("tokens")

    ide.page.get_by_role("button", name="Run all tests").click()
    status = ide.page.locator("#tests-box .tests-status")
    expect(status).to_have_text("1 of 2 passed · score 1 / 2 · Wrong answer", timeout=STEP_MS)
    expect(row(ide, "doubles")).to_have_attribute("data-verdict", "accepted")
    expect(row(ide, "doubles").locator(".test-verdict")).to_have_text("Passed")
    expect(row(ide, "doubles").locator(".test-usage")).to_have_text(
        re.compile(r"^\d+ ms · [\d.]+ [KM]B$"))
    wrong = row(ide, "wrong")
    expect(wrong).to_have_attribute("data-verdict", "wrong_answer")
    expect(wrong.locator(".test-verdict")).to_have_text("Wrong answer")
    expect(wrong.locator(".test-message")).to_have_text("token 1: expected '7', found '6'")
    expect(wrong.locator(".test-diff figcaption")).to_have_text(
        "First difference at line 1, column 1")
    expect(wrong.locator(".diff-expected del")).to_have_text("7\\n")
    expect(wrong.locator(".diff-got ins")).to_have_text("6\\n")
    expect(row(ide, "doubles").locator(".test-diff")).to_have_count(0)
    for name in ("doubles", "wrong"):  # fields folded: the results as a user reads them
        ide.page.get_by_role("button", name=name, exact=True).press("Enter")
    expect(ide.page.locator("#tests-box .test-fields:visible")).to_have_count(0)
    assert ide.page.evaluate(FITS) == [], "the page is wider than its 1280-pixel window"
    ide.page.screenshot(path=tmp_path / "tests-panel.png")  # docs/ide-tests.png is one
    assert [(f["mainFile"], f["checker"], [t["name"] for t in f["tests"]]) for f in frames] == [
        ("main.py", {"type": "tokens"}, ["doubles", "wrong"])]

    ide.page.reload()
    ide.wait_ready()
    open_tests(ide)
    expect(ide.page.locator("#tests-box li.test-case")).to_have_count(2)
    expect(ide.page.locator("#tests-box .test-toggle")).to_have_text(["doubles", "wrong"])
    expect(ide.page.get_by_label("Compare")).to_have_value("tokens")
    ide.page.get_by_role("button", name="wrong", exact=True).click()
    expect(ide.page.get_by_label("Input of test 2")).to_have_value("3\n")
    expect(ide.page.get_by_label("Expected output of test 2")).to_have_value("7\n")
    expect(ide.file_row(".coderunner/tests.json")).to_be_visible()
    # A project file: the workspace on the server has the tests too (they travel with it).
    expect(ide.page.locator("#workspace-status")).to_have_attribute("data-state", "saved",
                                                                    timeout=STEP_MS)
    stored = ide.page.evaluate(STORED_TESTS)
    assert [t["name"] for t in stored["tests"]] == ["doubles", "wrong"], stored


def test_a_compile_error_shows_the_compiler_output_and_stop_ends_a_run(ide: Ide) -> None:
    ide.open()
    ide.use_template("hello-c")
    ide.set_code(BROKEN_C)
    open_tests(ide)
    add_test(ide, 1, "one", "", "")
    ide.page.get_by_role("button", name="Run all tests").click()
    status = ide.page.locator("#tests-box .tests-status")
    expect(status).to_have_text("Compile error: the compiler's messages are below; no test ran",
                                timeout=30_000)
    output = ide.page.locator("#tests-box .tests-compile")
    expect(output).to_contain_text(f"{Q}missing{E} undeclared")
    expect(row(ide, "one")).to_have_attribute("data-verdict", "compile_error")
    output.get_by_role("link", name="main.c:4:12").first.click()
    assert ide.page.evaluate(CURSOR) == [4, 12]
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(1)

    ide.use_template("hello-python")  # a template replaces the project: its tests go with it
    expect(ide.page.locator("#tests-box li.test-case")).to_have_count(0)
    ide.set_code(SLEEPS)
    add_test(ide, 1, "sleeps", "", "")
    ide.page.get_by_role("button", name="Run all tests").click()
    expect(status).to_have_text(re.compile(r"^Running"), timeout=STEP_MS)
    ide.page.locator("#tests-box").get_by_role("button", name="Stop", exact=True).click()
    expect(status).to_have_text(re.compile(r"^Stopped"), timeout=STEP_MS)
    expect(row(ide, "sleeps").locator(".test-verdict")).to_have_text(re.compile(r"^(Stopped)?$"))
    expect(ide.page.get_by_role("button", name="Run all tests")).to_be_enabled()

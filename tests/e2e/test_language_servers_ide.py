"""The IDE's code intelligence from real language servers (docs/ide.md, Code intelligence), on
one page in Debian's Chromium against a live platform whose runner starts pylsp, clangd and
TypeScript's server in sandboxes of the page's session: Ctrl+Space after ``os.`` offers
``path``; an undefined name is squiggled as it is typed (Python and C), apart from a run's own
markers, and so is a TypeScript type error (a server whose diagnostics are pulled); hover and
signature help of a function of another file, and go to definition opening that file at it.
The tests run in order on the one page; each starts from a template."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ANSWER_MS, Ide

CURSOR = "() => { const p = monaco.editor.getEditors()[0].getPosition(); " \
         "return [p.lineNumber, p.column]; }"
PLACE_CURSOR = "([line, column]) => { const e = monaco.editor.getEditors()[0]; " \
               "e.setPosition({lineNumber: line, column}); e.focus(); }"
UTIL = "def half(x):\n    return x / 2\n"
MAIN = "from lib.util import half\n\nprint(half(4))\n"


@pytest.fixture(autouse=True)
def no_problems(shared_ide: Ide) -> Iterator[None]:
    """The shared page's console errors fail the test that caused them, not the module."""
    yield
    problems, shared_ide.problems[:] = list(shared_ide.problems), []
    assert problems == [], "the page reported problems"


def new_file(ide: Ide, path: str, code: str) -> None:
    ide.page.get_by_role("button", name="New file", exact=True).click()
    ide.page.locator("#ask-input").fill(path)
    ide.page.locator("#ask-input").press("Enter")
    expect(ide.page.locator("#open-file")).to_have_text(path)
    ide.set_code(code)


def open_file(ide: Ide, path: str) -> None:
    ide.file_row(path).locator("button.name").click()
    expect(ide.page.locator("#open-file")).to_have_text(path)


def test_ctrl_space_after_os_dot_offers_path(shared_ide: Ide, tmp_path: Path) -> None:
    ide = shared_ide
    ide.use_template("hello-python")
    ide.wait_language_server("python")
    ide.set_code("")
    ide.page.locator("#editor .monaco-editor").click()
    ide.page.keyboard.type("import os\nos.")
    ide.page.keyboard.press("Escape")  # the suggestions "." opened: Ctrl+Space asks again
    ide.page.keyboard.press("Control+Space")
    widget = ide.page.locator(".suggest-widget")
    # os's names, from jedi: the list shows its first dozen (abc, abort, …), not yet path
    expect(widget.get_by_role("option", name=re.compile(r"^abort\b"))).to_be_visible(
        timeout=ANSWER_MS)
    ide.page.keyboard.type("pat")  # narrows the list as one types, without asking again
    expect(widget.get_by_role("option", name=re.compile(r"^path\b"))).to_be_visible()
    # Resolved (completionItem/resolve): the item's detail, "os", then its documentation may
    # be shown (Monaco expands nothing for an item that has none yet).
    expect(widget.locator(".monaco-list-row.focused .details-label")).to_have_text(
        "os", timeout=ANSWER_MS)
    ide.page.keyboard.press("Control+Space")  # again: the chosen item's documentation beside it
    expect(ide.page.locator(".suggest-details-container")).to_contain_text(
        "Common operations on Posix pathnames", timeout=ANSWER_MS)  # completionItem/resolve's
    ide.page.screenshot(path=tmp_path / "completion.png")  # docs/ide-completion.png is one
    ide.page.keyboard.press("Enter")
    assert ide.code() == "import os\nos.path"


def test_an_undefined_name_is_squiggled_as_it_is_typed_apart_from_a_runs_markers(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    ide.use_template("hello-python")
    ide.wait_language_server("python")
    ide.set_code("x = 1\nprint(x, missing)\n")
    ide.wait_markers("lsp:python", [["main.py", "error", 2, 10, 19, "undefined name 'missing'"]])
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(1)
    ide.set_code("x = 1\nprint(x)\n")
    ide.wait_markers("lsp:python", [])

    ide.use_template("hello-c")
    ide.wait_language_server("cpp")
    ide.set_code("int main(void) {\n    return missing;\n}\n")
    ide.wait_markers("lsp:cpp", [["main.c", "error", 2, 12, 19,
                                   "Use of undeclared identifier 'missing'"]])
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(1)
    # A run's markers have their own owner: the run's clear nothing of the server's.
    panel = ide.run("main.c")
    ide.wait_done("main.c", timeout_ms=30_000)
    expect(panel).to_have_attribute("data-verdict", "compile_error")
    assert [m[2] for m in ide.markers("run:main.c")] == [2]
    assert len(ide.markers("lsp:cpp")) == 1


def test_a_typescript_type_error_is_squiggled_from_the_servers_pulled_diagnostics(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    ide.use_template("hello-typescript")
    ide.wait_language_server("typescript")
    ide.set_code("const n: number = 'one';\nconsole.log(n);\n")
    ide.wait_markers("lsp:typescript", [["main.ts", "error", 1, 7, 8,
                                          "Type 'string' is not assignable to type 'number'."]])
    ide.set_code("const n: number = 1;\nconsole.log(n);\n")
    ide.wait_markers("lsp:typescript", [])


def test_hover_signature_help_and_go_to_definition_into_the_other_file(shared_ide: Ide) -> None:
    ide = shared_ide
    ide.use_template("hello-python")
    new_file(ide, "lib/util.py", UTIL)
    open_file(ide, "main.py")
    ide.set_code(MAIN)
    ide.wait_language_server("python")
    ide.page.evaluate(PLACE_CURSOR, [3, 8])  # on "half" in print(half(4))
    ide.page.keyboard.press("Control+k")
    ide.page.keyboard.press("Control+i")  # the hover, from the keyboard
    expect(ide.page.locator(".monaco-hover").first).to_contain_text("half(x)", timeout=ANSWER_MS)
    ide.page.keyboard.press("Escape")
    ide.page.evaluate(PLACE_CURSOR, [3, 12])  # in half(4), after its "("
    ide.page.keyboard.press("Control+Shift+Space")  # signature help
    expect(ide.page.locator(".parameter-hints-widget")).to_contain_text("half(x)",
                                                                        timeout=ANSWER_MS)
    ide.page.keyboard.press("Escape")
    ide.page.evaluate(PLACE_CURSOR, [3, 8])
    ide.page.keyboard.press("F12")
    expect(ide.page.locator("#open-file")).to_have_text("lib/util.py", timeout=ANSWER_MS)
    assert ide.page.evaluate(CURSOR) == [1, 5]
    assert ide.code() == UTIL

"""The IDE's errors in the editor and its choices of what runs, on one page in a real Chromium
against a live platform: a C compile error and a Python traceback become Monaco markers and
console links that move the cursor, the language picker and its warning, Run the open file,
Run turning into Stop, input given before running (kept per file across a reload), the theme
and the help overlay, consoles that come back after a reload, a template closing the old tabs
and a notebook hiding the consoles. The tests run in order on the one page; each starts from
a template."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import STEP_MS, Ide

# A warning GCC 14 keeps a warning (it made -Wint-conversion an error), then an error.
BROKEN_C = '#include <stdio.h>\n\nint main(void) {\n    int x = 5 / 0;\n    return missing;\n}\n'
FIXED_C = '#include <stdio.h>\n\nint main(void) {\n    printf("fixed\\n");\n    return 0;\n}\n'
UTIL = "def half(x):\n    return 1 / x\n"
MAIN = "from lib.util import half\n\nprint(half(0))\n"

CLANGD_SAYS: list[list[object]] = [
    ["main.c", "error", 5, 12, 19, "Use of undeclared identifier 'missing'"],
    ["main.c", "warning", 4, 15, 16, "Division by zero is undefined"],
    ["main.c", "warning", 1, 1, 19, "Included header stdio.h is not used directly (fix available)"],
]
Q, E = "\N{LEFT SINGLE QUOTATION MARK}", "\N{RIGHT SINGLE QUOTATION MARK}"  # GCC's quotes
CURSOR = "() => { const p = monaco.editor.getEditors()[0].getPosition(); " \
         "return [p.lineNumber, p.column]; }"


@pytest.fixture(autouse=True)
def no_problems(shared_ide: Ide) -> Iterator[None]:
    """The shared page's console errors fail the test that caused them, not the module."""
    yield
    problems, shared_ide.problems[:] = list(shared_ide.problems), []
    assert problems == [], "the page reported problems"


def run_markers(ide: Ide, main: str, path: str) -> list[list[object]]:
    """The markers the last run of ``main`` left on ``path``: ``[severity, line, column,
    message]`` (the language server's, owner ``lsp:…``, are apart)."""
    return [marker[1:4] + marker[5:] for marker in ide.markers(f"run:{main}") if marker[0] == path]


def new_file(ide: Ide, path: str, code: str) -> None:
    ide.page.get_by_role("button", name="New file", exact=True).click()
    ide.page.locator("#ask-input").fill(path)
    ide.page.locator("#ask-input").press("Enter")
    expect(ide.page.locator("#open-file")).to_have_text(path)
    ide.set_code(code)


def test_a_c_compile_error_marks_its_lines_and_its_location_moves_the_cursor(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    ide.use_template("hello-c")
    ide.set_code(BROKEN_C)
    # The IDE runs clangd for C: its squiggles are waited for, so those counted below are the
    # same whichever answers first, the server or the compiler.
    ide.wait_language_server("cpp")
    ide.wait_markers("lsp:cpp", CLANGD_SAYS)
    panel = ide.run("main.c")
    ide.wait_done("main.c", timeout_ms=30_000)
    expect(panel).to_have_attribute("data-verdict", "compile_error")
    assert run_markers(ide, "main.c", "main.c") == [
        ["warning", 4, 15, "division by zero [-Wdiv-by-zero]"],
        ["error", 5, 12, f"{Q}missing{E} undeclared (first use in this function)"],
    ]
    # One squiggle per place: GCC's and clangd's under the same word make one.
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(1)
    expect(ide.page.locator("#editor .squiggly-warning")).to_have_count(2)  # and stdio.h's
    # Links: the error and its note both name main.c:5:12; the "In function" line no line.
    expect(panel.get_by_role("link")).to_have_text(["main.c:4:15", "main.c:5:12", "main.c:5:12"])
    ide.page.evaluate("() => monaco.editor.getEditors()[0].setPosition({lineNumber: 1, column: 1})")
    panel.get_by_role("link").nth(1).click()
    assert ide.page.evaluate(CURSOR) == [5, 12]
    expect(ide.page.locator("#editor .monaco-editor")).to_have_class(
        re.compile("focused"))

    ide.set_code(FIXED_C)  # the next run of the file clears its markers
    ide.run("main.c")
    ide.wait_done("main.c", timeout_ms=30_000)
    expect(panel.locator(".output")).to_have_text("fixed\n")
    assert run_markers(ide, "main.c", "main.c") == []
    ide.wait_markers("lsp:cpp", [])
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(0)


def test_a_python_traceback_marks_the_users_last_frame_not_the_platforms(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    ide.use_template("hello-python")
    new_file(ide, "lib/util.py", UTIL)
    ide.page.get_by_role("button", name="main.py", exact=True).click()
    ide.set_code(MAIN)
    panel = ide.run("main.py")
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "runtime_error")
    expect(panel.locator(".output")).to_contain_text("ZeroDivisionError")
    expect(panel.locator(".output")).not_to_contain_text("/opt/coderunner")
    assert run_markers(ide, "main.py", "lib/util.py") == [
        ["error", 2, 5, "ZeroDivisionError: division by zero"]]
    assert run_markers(ide, "main.py", "main.py") == []
    # The user's two frames are links (the platform's own never show).
    expect(panel.get_by_role("link")).to_have_text(['File "/workspace/main.py", line 3',
                                                    'File "/workspace/lib/util.py", line 2'])
    panel.get_by_role("link", name='File "/workspace/lib/util.py", line 2').click()
    expect(ide.page.locator("#open-file")).to_have_text("lib/util.py")
    assert ide.page.evaluate(CURSOR) == [2, 5]
    expect(ide.page.locator("#editor .squiggly-error")).to_have_count(1)


def test_the_language_picker_run_the_open_file_and_run_turning_into_stop(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    page = ide.page
    ide.use_template("hello-python")
    picker = page.get_by_label("Language of the main file")
    expect(picker).to_have_value("python")
    warning = page.locator("#language-warning")
    expect(warning).to_be_hidden()

    new_file(ide, "other.py", "print('the open file ran')\n")
    page.get_by_role("button", name="Run the open file, other.py").click()
    panel = ide.wait_done("other.py")
    expect(panel.locator(".output")).to_have_text("the open file ran\n")
    expect(page.locator("#run-target")).to_have_text("main file: main.py")

    picker.select_option("bash")  # main.py as a bash script: the warning says so, and it runs so
    expect(warning).to_be_visible()
    expect(warning).to_have_text("main.py looks like Python 3 (.py), but it will run as Bash.")
    panel = ide.run("main.py")
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "runtime_error")
    expect(panel.locator(".output")).to_contain_text("main.py: line 1: syntax error")
    picker.select_option("python")
    expect(warning).to_be_hidden()

    page.get_by_role("button", name="main.py", exact=True).click()
    ide.set_code("print('go', flush=True)\nwhile True:\n    pass\n")
    page.get_by_role("button", name="Run main.py").click()
    stop = page.locator("#run")
    expect(stop).to_have_accessible_name("Stop main.py")
    expect(stop).to_have_text("Stop")
    expect(panel.locator(".output")).to_have_text("go\n", timeout=STEP_MS)
    stop.click()
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "cancelled")
    expect(stop).to_have_accessible_name("Run main.py")


def test_input_given_before_running_reaches_the_program_and_is_kept_per_file(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    page = ide.page
    ide.use_template("python-stdin")
    page.locator("#stdin-summary").click()
    box = page.get_by_label("Standard input for main.py")
    box.fill("alpha\nbeta\n")
    expect(page.locator("#stdin-summary")).to_have_text("Input before running (2 lines)")
    panel = ide.run("main.py")
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "ok")
    expect(panel.locator(".output")).to_contain_text("#1: ALPHA (5 characters)")
    expect(panel.locator(".output")).to_contain_text("#2: BETA (4 characters)")
    expect(panel.locator(".output")).to_contain_text("bye after 2 lines")

    page.keyboard.press("Control+s")
    expect(page.locator("#saved")).to_contain_text("Saved at")
    page.reload()
    ide.wait_ready()
    expect(page.locator("#stdin-summary")).to_have_text("Input before running (2 lines)")
    page.locator("#stdin-summary").click()
    expect(page.get_by_label("Standard input for main.py")).to_have_value("alpha\nbeta\n")
    page.get_by_label("Standard input for main.py").fill("")  # empty: input stays live
    panel = ide.run("main.py")
    expect(panel.locator(".output")).to_have_text("your line? ", timeout=STEP_MS)
    line = panel.get_by_label("Input for main.py")
    expect(line).to_be_enabled()
    line.press("Enter")
    ide.wait_done("main.py")


def test_the_theme_is_chosen_and_remembered_and_the_help_lists_the_shortcuts(
    shared_ide: Ide,
) -> None:
    ide = shared_ide
    page = ide.page
    html = page.locator("html")
    theme = page.get_by_label("Theme")
    theme.select_option("dark")
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.locator("#editor .monaco-editor")).to_have_class(re.compile("vs-dark"))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(30, 30, 30)"
    page.reload()
    ide.wait_ready()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(theme).to_have_value("dark")
    expect(page.locator("#editor .monaco-editor")).to_have_class(re.compile("vs-dark"))
    theme.select_option("light")
    expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"

    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    page.locator("header h1").click()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Run the open file")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("F1")
    expect(help_dialog).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()
    page.locator("#editor .view-lines").click()  # in the editor, ? is typed
    page.keyboard.press("Control+Home")
    page.keyboard.press("End")
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()
    assert ide.code().split("\n")[0].endswith("?")


def test_consoles_come_back_after_a_reload_and_a_template_closes_them(shared_ide: Ide) -> None:
    ide = shared_ide
    page = ide.page
    ide.use_template("hello-python")
    expect(page.get_by_role("tab")).to_have_count(0)  # the last test's tabs went with its project
    done = ide.run("main.py")
    ide.wait_done("main.py")
    new_file(ide, "server.py", "print('go', flush=True)\nwhile True:\n    pass\n")
    page.get_by_role("button", name="Run the open file, server.py").click()
    going = ide.console("server.py")
    expect(going.locator(".output")).to_have_text("go\n", timeout=STEP_MS)

    page.reload()
    ide.wait_ready()
    expect(page.get_by_role("tab")).to_have_text(["main.py", "server.py"])
    expect(ide.tab("server.py")).to_have_attribute("aria-selected", "true")
    expect(going.locator(".phase")).to_have_text("Running (reconnected)", timeout=STEP_MS)
    expect(going.locator(".output")).to_contain_text("go\n")
    expect(going.locator(".output .notice.info").last).to_contain_text("The page was reloaded")
    ide.tab("main.py").click()
    expect(done.locator(".output")).to_have_text("Hello, world!\n")
    expect(done.locator(".phase")).to_have_text("Finished")
    ide.tab("server.py").click()
    going.get_by_role("button", name="Stop server.py").click()
    ide.wait_done("server.py")
    expect(going).to_have_attribute("data-verdict", "cancelled")

    page.get_by_role("button", name="New Jupyter file").click()
    page.locator("#ask-input").fill("analysis")
    page.locator("#ask-input").press("Enter")
    expect(page.locator("#notebook .cell").first).to_be_visible(timeout=STEP_MS)
    expect(page.locator("#consoles")).to_be_hidden()
    page.get_by_role("button", name="main.py", exact=True).click()
    expect(page.locator("#consoles")).to_be_visible()

    ide.use_template("hello-c")
    expect(page.get_by_role("tab")).to_have_count(0)
    expect(page.locator("#console-empty")).to_be_visible()

"""The browser IDE at `/`, in a real Chromium against a live platform: type and run, live
input, stop, output over the cap, two console tabs that talk, SQL tables, a project that
survives a reload, a resumed session after a dropped socket (which takes over the runs it left),
errors in words, a narrow window and the keyboard, and every language's hello world."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, Route, expect

from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_RUNTIMES_DIR
from tests.e2e.conftest import STEP_MS, Ide

RUNAWAY = """import itertools
for n in itertools.count():
    if n % 200_000 == 0:
        print("still going", n, flush=True)
"""

BUSY_LOOP = "print('go', flush=True)\nwhile True:\n    pass\n"

# Before the page's scripts: keeps every WebSocket the page opens, and what it sends, so that a
# test can drop the socket from the page's side (a plain close(), as a network drop looks to
# the app) and see which socket a frame went out on.
SOCKET_SPY = """(() => {
  const Native = window.WebSocket;
  const sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); this.sentFrames = []; sockets.push(this); }
    send(data) { this.sentFrames.push(JSON.parse(data)); return super.send(data); }
  };
  window.__sockets = sockets;
})();"""

FLOOD = """import sys
for i in range(40_000):  # 4 MB, four times the output cap
    sys.stdout.write(f"{i:>8} " + "x" * 90 + "\\n")
"""


def test_a_typed_program_runs_with_ctrl_enter_and_shows_stdout_stderr_and_colours(
    ide: Ide,
) -> None:
    ide.open()
    ide.page.locator("#editor .view-lines").click()
    ide.page.keyboard.press("Control+A")
    ide.page.keyboard.press("Delete")
    # Typed key by key: Monaco closes brackets and quotes itself and types over them again.
    ide.page.keyboard.type('import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n')
    assert ide.code() == 'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n'
    # Set through the API: typed, Monaco would close the escape sequences' brackets.
    ide.set_code(ide.code() + 'print("\\033[1;31mred\\033[0m plain")\n')
    ide.page.keyboard.press("Control+Enter")
    panel = ide.wait_done("main.py")
    expect(panel.locator(".output .stdout").first).to_contain_text("to stdout")
    expect(panel.locator(".output .stderr")).to_have_text("to stderr\n")
    expect(panel.locator(".output .stdout.ansi-fg-1.ansi-bold")).to_have_text("red")
    expect(panel.locator(".phase")).to_have_text("Finished")
    expect(panel.locator(".usage")).to_have_text(
        re.compile(r"\d+ ms wall · \d+ ms CPU · .+ memory"))
    expect(ide.tab("main.py")).to_have_attribute("aria-selected", "true")


def test_an_input_loop_is_driven_line_by_line(ide: Ide) -> None:
    ide.open()
    ide.use_template("python-stdin")
    panel = ide.run("main.py")
    output = panel.locator(".output")
    expect(output).to_have_text("your line? ", timeout=STEP_MS)
    line = panel.get_by_label("Input for main.py")
    line.fill("hello")
    line.press("Enter")
    expect(output).to_contain_text("#1: HELLO (5 characters)")
    line.fill("two words")
    panel.get_by_role("button", name="Send").click()
    expect(output).to_contain_text("#2: TWO WORDS (9 characters)")
    expect(panel.locator(".output .echo")).to_have_text(["hello\n", "two words\n"])
    line.press("Enter")  # an empty line ends the loop
    ide.wait_done("main.py")
    expect(output).to_contain_text("bye after 2 lines")
    expect(line).to_be_disabled()


def test_a_runaway_loop_is_stopped(ide: Ide) -> None:
    ide.open()
    ide.set_code(RUNAWAY)
    panel = ide.run("main.py")
    expect(panel.locator(".output")).to_contain_text("still going", timeout=STEP_MS)
    expect(panel.locator(".phase")).to_have_text("Running")
    panel.get_by_role("button", name="Stop main.py").click()
    ide.wait_done("main.py")
    expect(panel.locator(".phase")).to_have_text("Stopped")
    expect(panel).to_have_attribute("data-verdict", "cancelled")


def test_output_over_the_cap_is_cut_and_marked_truncated(ide: Ide) -> None:
    ide.open()
    ide.set_code(FLOOD)
    panel = ide.run("main.py")
    ide.wait_done("main.py", timeout_ms=30_000)
    expect(panel).to_have_attribute("data-verdict", "output_limit")
    expect(panel.locator(".phase")).to_have_text(re.compile("Output limit reached"))
    expect(panel.locator(".output .notice.error")).to_have_text(re.compile("Output truncated"))
    shown = panel.locator(".output").evaluate("o => o.textContent.length")
    assert 500_000 < shown <= 1_048_576 + 200, shown


def test_a_server_and_a_client_talk_from_two_tabs(ide: Ide) -> None:
    ide.open()
    ide.use_template("python-client-server")
    server = ide.run("server.py")
    expect(server.locator(".output")).to_contain_text("server listening on port 9000",
                                                      timeout=STEP_MS)
    ide.page.get_by_role("button", name="Make client.py the main file").click()
    client = ide.run("client.py")
    ide.wait_done("client.py")
    expect(client.locator(".phase")).to_have_text("Finished")
    expect(client.locator(".output")).to_have_text(
        "echo: hello\necho: from\necho: the\necho: client\n")
    expect(ide.page.get_by_role("tab")).to_have_text(["server.py", "client.py"])
    ide.tab("server.py").click()
    expect(server.locator(".output")).to_contain_text("server got 'client'")
    expect(server.locator(".phase")).to_have_text("Running")
    server.get_by_role("button", name="Stop server.py").click()
    ide.wait_done("server.py")


def test_a_module_that_did_not_load_makes_the_page_load_itself_again(ide: Ide) -> None:
    """As when Chromium aborts the requests in flight because Docker made or removed a network
    on this machine (ERR_NETWORK_CHANGED): no half-built page."""
    aborted: list[str] = []

    def once(route: Route) -> None:
        if aborted:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort("failed")

    ide.expected.append("net::ERR_FAILED")
    ide.page.route("**/js/project.js", once)
    ide.open()
    assert len(aborted) == 1
    expect(ide.page.locator("#notice")).to_be_hidden()


def test_a_page_that_cannot_load_says_so_after_three_tries(ide: Ide) -> None:
    tries: list[str] = []
    ide.expected.append("net::ERR_FAILED")
    ide.page.route("**/js/project.js", lambda route: (tries.append(route.request.url),
                                                      route.abort("failed")))
    ide.page.goto(ide.url)
    expect(ide.page.locator("#notice-text")).to_contain_text(
        "The IDE did not load completely", timeout=STEP_MS)
    assert len(tries) == 4, "the first load and three more"


def test_an_sql_script_shows_its_result_sets_as_tables(ide: Ide) -> None:
    ide.open()
    ide.use_template("sql-script")
    panel = ide.run("script.sql")
    ide.wait_done("script.sql", timeout_ms=30_000)  # the session's MariaDB starts first
    expect(panel.locator(".phase")).to_have_text("Finished")
    tables = panel.locator("table.result")
    expect(tables).to_have_count(2)
    expect(tables.nth(0).locator("th")).to_have_text(["name", "colour", "price"])
    expect(tables.nth(0).locator("tbody tr")).to_have_count(4)
    expect(tables.nth(0).locator("tbody tr").first.locator("td")).to_have_text(
        ["cherry", "red", "3.10"])
    expect(tables.nth(1).locator("tbody tr")).to_have_text([re.compile(r"red\s*2\s*3\.50"),
                                                             re.compile(r"yellow\s*2\s*0\.80")])


def test_files_and_folders_survive_a_reload_and_run_together(ide: Ide) -> None:
    page = ide.page
    ide.open()
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("New folder name").fill("pkg")
    page.get_by_label("New folder name").press("Enter")
    page.get_by_role("button", name="New file in pkg").click()
    expect(page.locator("#ask-input")).to_have_value("pkg/")
    page.locator("#ask-input").press("End")
    page.keyboard.type("helper.py")
    page.keyboard.press("Enter")
    expect(page.locator("#open-file")).to_have_text("pkg/helper.py")
    ide.set_code("def greet(name):\n    return f'hello from the helper, {name}'\n")
    page.get_by_role("button", name="main.py", exact=True).click()
    ide.set_code("from pkg.helper import greet\nprint(greet('reload'))\n")
    page.get_by_role("button", name="Rename main.py").click()
    page.get_by_label("New name for main.py").fill("app.py")
    page.get_by_role("button", name="OK").click()
    expect(ide.file_row("app.py")).to_be_visible()
    page.get_by_role("button", name="New file", exact=True).click()
    page.locator("#ask-input").fill("scratch.txt")
    page.locator("#ask-input").press("Enter")
    page.get_by_role("button", name="Delete scratch.txt").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(ide.file_row("scratch.txt")).to_have_count(0)

    page.reload()
    ide.wait_ready()
    expect(ide.file_row("app.py")).to_be_visible()
    paths = page.locator("#file-list li").evaluate_all("rows => rows.map(r => r.dataset.path)")
    assert paths == ["pkg", "pkg/helper.py", "app.py"]
    expect(page.get_by_role("button", name="app.py is the main file")).to_have_attribute(
        "aria-pressed", "true")
    page.get_by_role("button", name="helper.py", exact=True).click()
    assert "hello from the helper" in ide.code()
    panel = ide.run("app.py")
    ide.wait_done("app.py")
    expect(panel.locator(".output")).to_have_text("hello from the helper, reload\n")

    ide.use_template("sql-script")  # replaces the project, with an undo
    expect(page.locator("#file-list li")).to_have_count(1)
    page.get_by_role("button", name="Undo").click()
    expect(ide.file_row("pkg/helper.py")).to_be_visible()
    expect(page.get_by_role("button", name="app.py is the main file")).to_be_visible()


def test_a_dropped_socket_reconnects_and_resumes_the_session(ide: Ide) -> None:
    page = ide.page
    page.add_init_script(SOCKET_SPY)
    ide.open()
    expect(page.locator("#connection")).to_have_text("Connected")
    ide.use_template("python-stdin")
    panel = ide.run("main.py")
    expect(panel.locator(".output")).to_have_text("your line? ", timeout=STEP_MS)
    page.evaluate("() => window.__sockets.at(-1).close()")
    expect(panel.locator(".output .notice").first).to_contain_text(
        "connection to the platform dropped")
    expect(page.locator("#connection")).to_have_text("Connected (session resumed)",
                                                     timeout=STEP_MS)
    urls = page.evaluate("() => window.__sockets.map(s => s.url)")
    assert len(urls) == 2 and "token=" not in urls[0] and "?token=" in urls[1], urls
    # The drop closed the program's input, so it ended meanwhile; the resumed session brings
    # its completion (what it printed while no socket was there is not replayed).
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "ok")
    expect(panel.locator(".output .notice.info").last).to_contain_text("may be missing")
    ide.run("main.py")
    expect(panel.locator(".output")).to_have_text("your line? ", timeout=STEP_MS)
    panel.get_by_label("Input for main.py").press("Enter")
    ide.wait_done("main.py")
    expect(panel.locator(".output")).to_contain_text("bye after 0 lines")


def test_a_run_left_by_a_dropped_socket_is_taken_over_and_stopped_from_the_new_one(
    ide: Ide,
) -> None:
    page = ide.page
    page.add_init_script(SOCKET_SPY)
    ide.open()
    ide.set_code(BUSY_LOOP)
    panel = ide.run("main.py")
    expect(panel.locator(".output")).to_have_text("go\n", timeout=STEP_MS)
    expect(panel.locator(".phase")).to_have_text("Running")
    page.evaluate("() => window.__sockets.at(-1).close()")
    expect(panel.locator(".output .notice").first).to_contain_text("dropped; reconnecting")
    expect(page.locator("#connection")).to_have_text("Connected (session resumed)",
                                                     timeout=STEP_MS)
    expect(panel).to_have_attribute("data-phase", "running")
    expect(panel.locator(".phase")).to_have_text("Running (reconnected)")
    expect(panel.locator(".output .notice.info").last).to_contain_text(
        "What it printed while the connection was down may be missing")
    stop = panel.get_by_role("button", name="Stop main.py")
    expect(stop).to_be_enabled()
    stop.click()
    ide.wait_done("main.py")
    expect(panel).to_have_attribute("data-verdict", "cancelled")
    expect(panel.locator(".phase")).to_have_text("Stopped")
    expect(panel.locator(".usage")).to_have_text(re.compile(r"\d.* wall · .* CPU"))
    # The language server's frames (main.py's, docs/ide.md#code-intelligence) are not the run's.
    sockets = page.evaluate("() => window.__sockets.map(s => ({url: s.url, "
                            "sent: s.sentFrames.filter(f => f.type !== 'lsp')}))")
    assert len(sockets) == 2 and "?token=" in sockets[1]["url"], sockets
    assert [f["type"] for f in sockets[0]["sent"]] == ["execute_code"]
    # The resumed run is attached again (for an edge that restarted), then stopped.
    assert [f["type"] for f in sockets[1]["sent"]] == ["attach", "stop"], \
        "Stop went out on the new socket"
    assert sockets[1]["sent"][0]["executionId"]


def test_errors_are_told_in_words_where_the_user_looks(ide: Ide) -> None:
    page = ide.page
    ide.open()
    page.get_by_role("button", name="New file", exact=True).click()
    page.locator("#ask-input").fill("../outside.py")
    page.locator("#ask-input").press("Enter")
    expect(page.locator("#ask-error")).to_have_text("A path cannot have empty, '.' or '..' parts.")
    page.locator("#ask-input").fill("broken.c")
    page.locator("#ask-input").press("Enter")
    ide.set_code("int main(void) { return missing; }\n")
    page.get_by_role("button", name="Make broken.c the main file").click()
    panel = ide.run("broken.c")
    ide.wait_done("broken.c", timeout_ms=30_000)
    expect(panel.locator(".phase")).to_contain_text("Compile error")
    expect(panel.locator(".output .stderr").first).to_contain_text("missing")

    page.get_by_role("button", name="New file", exact=True).click()
    page.locator("#ask-input").fill("notes.txt")
    page.locator("#ask-input").press("Enter")
    page.get_by_role("button", name="Make notes.txt the main file").click()
    page.get_by_role("button", name="Run notes.txt").click()
    expect(page.locator("#notice")).to_contain_text("No language here runs .txt files")


def test_a_narrow_window_is_usable_from_the_keyboard(ide: Ide) -> None:
    page: Page = ide.page
    page.set_viewport_size({"width": 420, "height": 800})
    ide.open()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "nothing sticks out sideways"
    unnamed = page.locator("button").evaluate_all(
        "bs => bs.filter(b => !(b.getAttribute('aria-label') || b.textContent.trim()))"
        ".map(b => b.outerHTML)")
    assert unnamed == []
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the editor")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_accessible_name("Run main.py")
    page.keyboard.press("Enter")
    panel = ide.wait_done("main.py")
    expect(panel.locator(".output")).to_have_text("Hello, world!\n")
    ide.tab("main.py").focus()
    page.keyboard.press("Tab")  # from the tab into its panel
    expect(page.locator(":focus")).to_have_text("Clear")


UNFINISHED_PER_SESSION = 16
"""A session's unfinished runs the edge admits (``edge.ws`` ``OpenRuns(per_session=16)``)."""


def test_every_language_runs_its_hello_world_template_in_a_tab_of_its_own(ide: Ide) -> None:
    ide.open()
    ids = ide.page.locator("#template option").evaluate_all("os => os.map(o => o.value)")
    hellos = [i for i in ids if i.startswith("hello-")]
    catalog = load_catalog(DEFAULT_RUNTIMES_DIR).runtimes
    assert sorted(hellos) == sorted(f"hello-{r.name}" for r in catalog if r.template)
    files = {}
    for template_id in hellos:
        ide.use_template(template_id)
        files[ide.page.locator("#run-target").inner_text().removeprefix("main file: ")] = ide.code()
    # A template replaces the project and closes the old one's tabs: so every hello world goes
    # into one project, and each file runs as the open file, the runs overlapping.
    # Before the page's scripts: the page stores its own project when it goes away.
    project = json.dumps({"files": files, "main": next(iter(files))})
    ide.page.add_init_script(
        f"localStorage.setItem('coderunner.project.v1', {json.dumps(project)})")
    ide.page.reload()
    ide.wait_ready()
    # A session may have 16 runs unfinished (edge.ws OpenRuns): thirty languages run in batches.
    mains = list(files)
    for start in range(0, len(mains), UNFINISHED_PER_SESSION):
        batch = mains[start:start + UNFINISHED_PER_SESSION]
        for main in batch:
            ide.page.get_by_role("button", name=main, exact=True).click()
            ide.page.keyboard.press("Control+Shift+Enter")
        for main in batch:
            panel = ide.wait_done(main, timeout_ms=60_000)
            expect(panel.locator(".phase")).to_have_text("Finished")
            expect(panel.locator(".output")).to_contain_text("Hello, world!")
    expect(ide.page.get_by_role("tab")).to_have_count(len(hellos))

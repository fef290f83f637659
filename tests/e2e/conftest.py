"""The browser IDE in Debian's Chromium (driven by Playwright, never downloaded by it) against a
live platform: one platform and one browser per test module, a fresh browser context (so empty
storage: a first visit) per test. Every test leaves a screenshot in its tmp_path and fails if
the page logged a console error or threw."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.conftest import Running, running_platform

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 768}
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
"""Chromium aborts requests in flight when a network interface comes or goes (Docker makes one
per session network, on this machine): the page reloads itself then (web/index.html), and a
test loads it again, as a person would; it is not a problem of the page."""
STEP_MS = 15_000  # one step (a page load, a run, an answer); each test is well under pytest's 120 s
SERVER_START_MS = 60_000
"""A language server's first start: its sandbox, then the server (and jedi's first look at
``os``)."""
ANSWER_MS = 30_000
"""A language server's answer (the first completion waits for jedi to read ``os``), as the IDE's
own limit."""
MARKERS = """owner => monaco.editor.getModelMarkers({owner})
  .map(m => [m.resource.path.slice(1), m.severity === monaco.MarkerSeverity.Error ? "error"
             : m.severity === monaco.MarkerSeverity.Warning ? "warning" : String(m.severity),
             m.startLineNumber, m.startColumn, m.endColumn, m.message])"""
"""One owner's markers (``run:<main file>`` for a run's, ``lsp:<server>`` for a language
server's): ``[path, severity, line, column, end column, message]``."""


@pytest.fixture(scope="module")
def ide_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # Session networks live for the module: a bridge removed by the TTL while a page loads makes
    # Chromium fail the load with ERR_NETWORK_CHANGED.
    with running_platform(tmp_path_factory.mktemp("ide"), CONTAINER_TTL="900") as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists() or shutil.which("node") is None:
        pytest.fail(f"{CHROMIUM} or node is missing: run `make web` (infra/setup/ensure-*.sh)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Ide:
    """The page, with the steps the tests share. ``problems`` collects console errors and
    uncaught exceptions."""

    page: Page
    url: str
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=lambda: [NETWORK_CHANGED])
    """Console errors containing one of these are no problem (a test that fails loads on
    purpose adds its own)."""

    def open(self) -> None:
        for attempt in range(3):
            try:
                self.page.goto(self.url)
                break
            except Error as exc:  # as a person would, load again (see NETWORK_CHANGED)
                if NETWORK_CHANGED not in str(exc) or attempt == 2:
                    raise
        self.wait_ready()

    def wait_ready(self) -> None:
        self.wait_editor()
        expect(self.page.locator("#connection")).to_have_attribute("data-state", "open",
                                                                   timeout=STEP_MS)
        expect(self.page.locator("#template option").first).to_be_attached(timeout=STEP_MS)

    def wait_editor(self) -> None:
        """Until the editor is made (the app says so on ``#editor``)."""
        # Not a poll of `window.monaco`: it exists before all of Monaco's modules have run, and
        # the first call into it then starts Monaco's services without the late modules' ones
        # ("depends on UNKNOWN service ICodeLensCache" when the editor is made).
        expect(self.page.locator("#editor")).to_have_attribute("data-state", "ready",
                                                               timeout=STEP_MS)

    def set_code(self, source: str) -> None:
        """Replace the open file's text through Monaco's API (`window.monaco`)."""
        self.page.evaluate("s => monaco.editor.getEditors()[0].getModel().setValue(s)", source)

    def code(self) -> str:
        return str(self.page.evaluate("() => monaco.editor.getEditors()[0].getModel().getValue()"))

    def use_template(self, template_id: str) -> None:
        self.page.get_by_label("Start from a template").select_option(template_id)
        self.page.get_by_role("button", name="Use", exact=True).click()

    def run(self, main: str) -> Locator:
        """Press Run for ``main`` (the main file); its console panel."""
        self.page.get_by_role("button", name=f"Run {main}").click()
        return self.console(main)

    def console(self, main: str) -> Locator:
        return self.page.locator(f'.console-panel[data-main-file="{main}"]')

    def tab(self, main: str) -> Locator:
        return self.page.get_by_role("tab", name=main)

    def wait_done(self, main: str, timeout_ms: int = STEP_MS) -> Locator:
        panel = self.console(main)
        expect(panel).to_have_attribute("data-phase", "done", timeout=timeout_ms)
        return panel

    def file_row(self, path: str) -> Locator:
        return self.page.locator(f'#file-list li[data-path="{path}"]')

    def markers(self, owner: str) -> list[list[object]]:
        """``owner``'s markers on every file (see ``MARKERS``)."""
        return list(self.page.evaluate(MARKERS, owner))

    def wait_markers(self, owner: str, expected: list[list[object]]) -> None:
        """Until ``owner``'s markers are ``expected`` (a language server publishes them once the
        edit reached it); they are compared again for a readable failure."""
        try:
            self.page.wait_for_function(
                f"([owner, want]) => JSON.stringify(({MARKERS})(owner)) === want",
                arg=[owner, json.dumps(expected, separators=(",", ":"))], timeout=ANSWER_MS)
        finally:
            assert self.markers(owner) == expected

    def wait_language_server(self, server: str) -> None:
        """Until the open file's language server answered initialize (the status line says so)."""
        status = self.page.locator("#lsp-status")
        expect(status).to_have_attribute("data-server", server)
        expect(status).to_have_attribute("data-state", "running", timeout=SERVER_START_MS)


@contextmanager
def ide_page(browser: Browser, url: str, screenshot: Path) -> Iterator[Ide]:
    """A first visit in a browser context of its own, that fails if the page reported a
    problem, and leaves a screenshot."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    ide = Ide(page, url)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not any(e in message.text for e in ide.expected):
            ide.problems.append(f"console error: {message.text} at {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda error: ide.problems.append(f"page error: {error}"))
    try:
        yield ide
    finally:
        try:
            page.screenshot(path=screenshot, full_page=True)
        except Error as exc:  # the page may be gone when the test failed hard
            ide.problems.append(f"no screenshot: {exc}")
        context.close()
    assert ide.problems == [], "the page reported problems"


@pytest.fixture
def ide(browser: Browser, ide_platform: Running, tmp_path: Path) -> Iterator[Ide]:
    with ide_page(browser, ide_platform.url, tmp_path / "screenshot.png") as ide:
        yield ide


@pytest.fixture(scope="module")
def shared_ide(browser: Browser, ide_platform: Running,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ide]:
    """One page for a whole module, opened once: its tests run in order on it, each starting
    from a template of its own (a page load per test would cost more than the tests)."""
    with ide_page(browser, ide_platform.url,
                  tmp_path_factory.mktemp("shared-ide") / "screenshot.png") as ide:
        ide.open()
        yield ide

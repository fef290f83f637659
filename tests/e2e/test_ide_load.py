"""The IDE loads whole when Monaco's modules arrive late and out of order (a slow or busy
server): its own static server over web/ holds back every Monaco module but the editor's core.

Monaco's core sets `window.monaco` before the other modules have run; a call into it then
(`monaco.editor.getEditors()`) starts Monaco's services without theirs, and making the editor
later throws "depends on UNKNOWN service ICodeLensCache". The page waits for all of them; the
tests' readiness check (`Ide.wait_editor`) must too, and this test fails if it does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import ide_page

WEB = Path(__file__).resolve().parents[2] / "web"
MONACO = "/node_modules/monaco-editor/min/vs/"
LATE_S = 1.0


def held_back(path: str) -> bool:
    """A Monaco module other than the AMD loader, the entry point and the editor's core."""
    name = path.rsplit("/", 1)[-1]
    return (MONACO in path and name.endswith(".js")
            and name not in ("loader.js", "editor.main.js")
            and not name.startswith(("editor-", "editorWorkerHost-")))


class SlowMonaco(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if held_back(self.path):
            time.sleep(LATE_S)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def slow_web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SlowMonaco, directory=str(WEB)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_editor_is_whole_when_monaco_modules_arrive_late(
        browser: Browser, slow_web: str, tmp_path: Path) -> None:
    with ide_page(browser, slow_web, tmp_path / "screenshot.png") as ide:
        # No platform behind this server: the socket and the runtimes list fail, as expected.
        ide.expected += ["/ws", "404", "WebSocket"]
        ide.page.goto(slow_web, wait_until="commit")
        ide.wait_editor()
        # Code lens is one of the features in a held-back module.
        assert ide.page.evaluate(
            "() => monaco.editor.getEditors()[0].getContribution('css.editor.codeLens') !== null")

"""The IDE's workspace on the server (docs/workspaces.md): two pages on one workspace keep both
versions of a file changed in both, an edit made offline is saved once the network is back
(and an older revision restored from the menu), and a share link opens its revision
read-only."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.conftest import Running
from tests.e2e.conftest import STEP_MS, Ide, ide_page

OFFLINE = ("ERR_INTERNET_DISCONNECTED", "WebSocket connection")
"""Console errors of a page whose network the test cut (its fetches and its socket fail)."""


def saved(ide: Ide) -> None:
    expect(ide.page.locator("#workspace-status")).to_have_attribute("data-state", "saved",
                                                                     timeout=STEP_MS)


def on_server(platform: Running, workspace: str, path: str, content: str) -> None:
    """Until the server holds ``content`` in ``path`` (the page saves it a moment after the
    change); fails after a step's time."""
    deadline = time.monotonic() + STEP_MS / 1000
    while (found := server_file(platform, workspace, path)) != content:
        assert time.monotonic() < deadline, f"the server has {found!r} in {path}"
        time.sleep(0.1)


def server_file(platform: Running, workspace: str, path: str) -> str | None:
    response = httpx.get(f"{platform.url}/api/v1/workspaces/{workspace}/files/{path}",
                         trust_env=False)
    return response.text if response.status_code == 200 else None


def test_two_pages_on_one_workspace_keep_both_versions_of_a_conflict(
    browser: Browser, ide_platform: Running, tmp_path: Path,
) -> None:
    workspace = f"e2e-{uuid.uuid4().hex[:8]}"
    url = f"{ide_platform.url}/?workspace={workspace}"
    with ide_page(browser, url, tmp_path / "a.png") as a, \
            ide_page(browser, url, tmp_path / "b.png") as b:
        a.open()
        a.set_code("print('first')\n")
        on_server(ide_platform, workspace, "main.py", "print('first')\n")
        b.expected.extend(OFFLINE)
        b.open()
        expect(b.page.locator("#workspace-status")).to_have_attribute("data-state", "saved",
                                                                      timeout=STEP_MS)
        b.page.wait_for_function("() => monaco.editor.getEditors()[0].getModel().getValue()"
                                 " === \"print('first')\\n\"", timeout=STEP_MS)
        b.page.context.set_offline(True)
        b.set_code("print('b')\n")
        expect(b.page.locator("#workspace-status")).to_have_attribute("data-state", "offline",
                                                                      timeout=STEP_MS)
        a.set_code("print('a')\n")
        on_server(ide_platform, workspace, "main.py", "print('a')\n")
        b.page.context.set_offline(False)
        conflict = b.page.locator('#file-list li[data-path^="main (conflict"]')
        expect(conflict).to_be_attached(timeout=STEP_MS)
        saved(b)
        assert b.code() == "print('b')\n", "the edit made here stays in its file"
        main = b.page.evaluate("() => document.querySelector('#file-list li[data-path^=\"main "
                               "(conflict\"]').dataset.path")
        assert server_file(ide_platform, workspace, "main.py") == "print('b')\n"
        assert server_file(ide_platform, workspace, main) == "print('a')\n"
        # The other page takes both at its next look (it polls, or syncs on its next edit).
        expect(a.page.locator(f'#file-list li[data-path="{main}"]')).to_be_attached(
            timeout=STEP_MS)


def test_an_edit_made_offline_is_saved_when_the_network_is_back(
    browser: Browser, ide_platform: Running, tmp_path: Path,
) -> None:
    workspace = f"e2e-{uuid.uuid4().hex[:8]}"
    with ide_page(browser, f"{ide_platform.url}/?workspace={workspace}",
                  tmp_path / "offline.png") as ide:
        ide.expected.extend(OFFLINE)
        ide.open()
        # Typed while online first: Monaco loads its worker scripts at the first edit, and
        # those would not load offline (a page error no person would meet after typing).
        ide.set_code("print('online')\n")
        on_server(ide_platform, workspace, "main.py", "print('online')\n")
        ide.page.context.set_offline(True)
        ide.set_code("print('written offline')\n")
        expect(ide.page.locator("#workspace-status")).to_have_attribute("data-state", "offline",
                                                                        timeout=STEP_MS)
        ide.page.context.set_offline(False)
        on_server(ide_platform, workspace, "main.py", "print('written offline')\n")
        saved(ide)
        # The workspace menu lists the revisions; restoring one brings its text back.
        ide.page.locator("#workspace-menu > summary").click()
        ide.page.get_by_role("button", name="Revisions").click()
        expect(ide.page.locator("#revision-list li")).to_have_count(3, timeout=STEP_MS)
        ide.page.get_by_role("button", name="Restore revision 2").click()
        on_server(ide_platform, workspace, "main.py", "print('online')\n")
        expect(ide.page.locator("#revision-list li").first).to_contain_text("restore 2",
                                                                            timeout=STEP_MS)
        assert ide.code() == "print('online')\n"


def test_a_share_link_opens_its_revision_read_only(
    browser: Browser, ide_platform: Running, tmp_path: Path,
) -> None:
    workspace = f"e2e-{uuid.uuid4().hex[:8]}"
    api = f"{ide_platform.url}/api/v1/workspaces/{workspace}"
    put = httpx.put(f"{api}/files/main.py", content=b"print('shared')\n", trust_env=False,
                    headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 200
    link = httpx.post(f"{api}/share", json={}, trust_env=False).json()
    httpx.put(f"{api}/files/main.py", content=b"print('later')\n", trust_env=False,
              headers={"Content-Type": "application/octet-stream"})
    with ide_page(browser, f"{ide_platform.url}{link['url']}",
                  tmp_path / "share.png") as ide:
        ide.open()
        status = ide.page.locator("#workspace-status")
        expect(status).to_have_attribute("data-state", "read-only", timeout=STEP_MS)
        expect(status).to_have_attribute("data-revision", "1")
        assert ide.code() == "print('shared')\n"
        ide.page.locator("#editor .view-lines").click()
        ide.page.keyboard.type("x = 1\n")
        assert ide.code() == "print('shared')\n", "a shared revision takes no typing"
        assert ide.page.evaluate("() => localStorage.getItem('coderunner.project.v1')") is None
    assert server_file(ide_platform, workspace, "main.py") == "print('later')\n"

"""Jupyter notebooks in the browser IDE, in a real Chromium against a live platform whose runner
keeps a Python kernel per notebook and session: cells that share a variable, a matplotlib plot
as an image, a notebook saved as nbformat 4 (with that image) and downloaded, errors with their
coloured traceback, interrupt and restart, HTML in a sandboxed frame, the kernel kept across a
dropped socket, and a narrow window."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import STEP_MS, Ide

# A notebook's first cell waits for its kernel: a container, then ipykernel (with matplotlib
# loaded when it comes from the runner's warm spares), which takes far longer on a busy machine.
KERNEL_MS = 120_000
pytestmark = pytest.mark.timeout(300)
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1,2,3],[1,4,9])\nplt.show()"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Before the page's scripts: keeps every WebSocket the page opens and the frames it sends.
SOCKET_SPY = """(() => {
  const Native = window.WebSocket;
  const sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); this.sentFrames = []; sockets.push(this); }
    send(data) { this.sentFrames.push(JSON.parse(data)); return super.send(data); }
  };
  window.__sockets = sockets;
})();"""


def new_notebook(ide: Ide, name: str = "analysis") -> Locator:
    """Open the IDE, make ``name``.ipynb with "New Jupyter file"; the notebook's element."""
    ide.open()
    ide.page.get_by_role("button", name="New Jupyter file").click()
    field = ide.page.get_by_label("New notebook name (.ipynb is added)")
    field.fill(name)
    field.press("Enter")
    notebook = ide.page.locator(f'.notebook[data-path="{name}.ipynb"]')
    expect(notebook.locator(".cell")).to_have_count(1)
    expect(notebook.locator(".kernel")).to_have_text("Kernel (python): Idle", timeout=STEP_MS)
    return notebook


def cell(notebook: Locator, n: int) -> Locator:
    """The ``n``-th cell (1-based)."""
    return notebook.locator(".cell").nth(n - 1)


def set_cell(ide: Ide, cell_: Locator, source: str) -> None:
    """Replace a cell's text through its Monaco editor (typed, Monaco would indent and close)."""
    cell_.locator(".cell-editor").evaluate(
        "(box, s) => monaco.editor.getEditors().find(e => box.contains(e.getContainerDomNode()))"
        ".getModel().setValue(s)", source)


def stored_notebook(ide: Ide, path: str) -> dict[str, Any]:
    project = ide.page.evaluate("() => JSON.parse(localStorage.getItem('coderunner.project.v1'))")
    return json.loads(project["files"][path])  # type: ignore[no-any-return]


def source_of(cell_: dict[str, Any]) -> str:
    source = cell_["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def test_cells_share_a_kernel_a_plot_is_an_image_and_the_save_is_nbformat_4(
    ide: Ide, tmp_path: Path,
) -> None:
    page = ide.page
    notebook = new_notebook(ide)
    # Typed into the first cell, which has the keyboard; Shift+Enter runs it and moves on,
    # making a new cell at the end.
    page.keyboard.type("x = 41")
    page.keyboard.press("Shift+Enter")
    expect(notebook.locator(".cell")).to_have_count(2)
    page.keyboard.type("x + 1")
    page.keyboard.press("Shift+Enter")
    expect(cell(notebook, 1).locator(".cell-prompt")).to_have_text("[1]", timeout=KERNEL_MS)
    expect(cell(notebook, 2).locator(".cell-outputs")).to_have_text("42", timeout=STEP_MS)
    expect(cell(notebook, 2).locator(".cell-prompt")).to_have_text("[2]")
    set_cell(ide, cell(notebook, 3), PLOT)
    page.get_by_role("button", name="Run cell 3").click()
    image = cell(notebook, 3).locator("img.out")
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"),
                                    timeout=KERNEL_MS)
    assert image.evaluate("img => img.complete && img.naturalWidth > 100"), "the PNG decodes"
    expect(cell(notebook, 3).locator(".cell-prompt")).to_have_text("[3]")
    expect(notebook.locator(".kernel")).to_have_text("Kernel (python): Idle")
    image.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "notebook.png")  # the IDE with the notebook and its plot

    page.keyboard.press("Control+s")
    expect(notebook.locator(".nb-message")).to_have_text(
        "Saved analysis.ipynb in the browser's storage.")
    saved = stored_notebook(ide, "analysis.ipynb")
    assert saved["nbformat"] == 4 and saved["nbformat_minor"] >= 4
    assert saved["metadata"]["kernelspec"]["name"] == "python3"
    assert saved["metadata"]["language_info"]["name"] == "python"
    cells = saved["cells"]
    assert [source_of(c) for c in cells] == ["x = 41", "x + 1", PLOT]
    for c in cells:
        assert {"cell_type", "id", "source", "metadata", "outputs", "execution_count"} <= set(c)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", c["id"])
    assert [c["execution_count"] for c in cells] == [1, 2, 3]
    assert cells[0]["outputs"] == []
    assert [o["output_type"] for o in cells[1]["outputs"]] == ["execute_result"]
    assert cells[1]["outputs"][0]["data"]["text/plain"] == "42"
    images = [o for o in cells[2]["outputs"] if "image/png" in o.get("data", {})]
    assert [o["output_type"] for o in images] == ["display_data"], cells[2]["outputs"]
    assert base64.b64decode(images[0]["data"]["image/png"]).startswith(PNG_MAGIC)

    with page.expect_download() as download:
        notebook.get_by_role("button", name="Download .ipynb").click()
    assert download.value.suggested_filename == "analysis.ipynb"
    assert json.loads(Path(download.value.path()).read_text()) == saved


def test_an_error_shows_its_traceback_and_stops_run_all_interrupt_and_restart_work(
    ide: Ide,
) -> None:
    page = ide.page
    notebook = new_notebook(ide, "errors")
    set_cell(ide, cell(notebook, 1), "y = 1")
    for source in ["1/0", "y = 2", "import time\ntime.sleep(60)"]:
        notebook.get_by_role("button", name="+ Code cell").click()
        set_cell(ide, notebook.locator(".cell").last, source)
    notebook.get_by_role("button", name="Run all").click()
    expect(cell(notebook, 2).locator(".cell-status")).to_have_text("Error", timeout=KERNEL_MS)
    traceback = cell(notebook, 2).locator("pre.error")
    expect(traceback).to_contain_text("ZeroDivisionError")
    expect(traceback.locator("span.ansi-fg-1").first).to_be_visible()  # red, from the ANSI codes
    expect(cell(notebook, 3).locator(".cell-status")).to_have_text(
        "Not run: an earlier cell did not finish")
    expect(cell(notebook, 3).locator(".cell-prompt")).to_have_text("[ ]")

    page.get_by_role("button", name="Run cell 4").click()
    expect(cell(notebook, 4).locator(".cell-status")).to_have_text("Running", timeout=STEP_MS)
    expect(notebook.locator(".kernel")).to_have_text("Kernel (python): Busy")
    notebook.get_by_role("button", name="Interrupt").click()
    expect(cell(notebook, 4).locator(".cell-status")).to_have_text("Interrupted", timeout=STEP_MS)
    expect(cell(notebook, 4).locator(".cell-outputs")).to_contain_text("KeyboardInterrupt")
    expect(notebook.locator(".kernel")).to_have_text("Kernel (python): Idle")

    set_cell(ide, cell(notebook, 3), "y")
    page.get_by_role("button", name="Run cell 3").click()
    expect(cell(notebook, 3).locator(".cell-outputs")).to_have_text("1", timeout=STEP_MS)
    notebook.get_by_role("button", name="Restart kernel").click()
    expect(notebook.locator(".nb-message")).to_have_text(
        "Kernel restarted: its variables are gone.", timeout=STEP_MS)
    page.get_by_role("button", name="Run cell 3").click()
    expect(cell(notebook, 3).locator("pre.error")).to_contain_text("NameError", timeout=KERNEL_MS)


def test_html_output_is_sandboxed_and_outputs_come_back_after_a_reload(ide: Ide) -> None:
    page = ide.page
    notebook = new_notebook(ide, "html")
    set_cell(ide, cell(notebook, 1), 'from IPython.display import HTML\nprint("before")\n'
                                     'HTML("<table><tr><td id=cell>forty-two</td></tr></table>")')
    page.get_by_role("button", name="Run cell 1").click()
    frame = cell(notebook, 1).locator("iframe.out")
    expect(frame).to_have_attribute("sandbox", "", timeout=KERNEL_MS)
    expect(frame.content_frame.locator("#cell")).to_have_text("forty-two")
    expect(cell(notebook, 1).locator("pre.stream-stdout")).to_have_text("before\n")

    # The project is saved a quarter of a second after a change: wait until it holds the output.
    page.wait_for_function(
        "() => (localStorage.getItem('coderunner.project.v1') || '').includes('forty-two')",
        timeout=STEP_MS)
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "open", timeout=STEP_MS)
    notebook = page.locator('.notebook[data-path="html.ipynb"]')
    expect(cell(notebook, 1).locator(".cell-prompt")).to_have_text("[1]", timeout=STEP_MS)
    expect(cell(notebook, 1).locator("iframe.out").content_frame.locator("#cell")).to_have_text(
        "forty-two")


def test_the_kernel_keeps_its_variables_when_the_socket_drops(ide: Ide) -> None:
    page = ide.page
    page.add_init_script(SOCKET_SPY)
    notebook = new_notebook(ide, "resume")
    set_cell(ide, cell(notebook, 1), "x = 41")
    page.get_by_role("button", name="Run cell 1").click()
    expect(cell(notebook, 1).locator(".cell-prompt")).to_have_text("[1]", timeout=KERNEL_MS)
    page.evaluate("() => window.__sockets.at(-1).close()")
    expect(page.locator("#connection")).to_have_text("Connected (session resumed)",
                                                     timeout=STEP_MS)
    expect(notebook.locator(".kernel")).to_have_text("Kernel (python): Idle", timeout=STEP_MS)
    notebook.get_by_role("button", name="+ Code cell").click()
    page.keyboard.type("x + 1")
    page.keyboard.press("Control+Enter")
    expect(cell(notebook, 2).locator(".cell-outputs")).to_have_text("42", timeout=STEP_MS)
    expect(cell(notebook, 2).locator(".cell-prompt")).to_have_text("[2]")
    sockets = page.evaluate("() => window.__sockets.map(s => s.sentFrames)")
    assert len(sockets) == 2, sockets
    opens = [[f["notebookId"] for f in sent if f["type"] == "notebook_open"] for sent in sockets]
    assert len(opens[0]) == 1 and opens[1] == opens[0], "notebook_open again, same notebook"
    assert [f["type"] for f in sockets[1]] == ["notebook_open", "notebook_execute"]


def test_a_narrow_window_shows_the_notebook_and_every_control_has_a_name(ide: Ide) -> None:
    page = ide.page
    page.set_viewport_size({"width": 420, "height": 800})
    ide.open()
    ide.use_template("python-notebook")
    notebook = page.locator('.notebook[data-path="notebook.ipynb"]')
    expect(notebook.locator(".cell")).to_have_count(4)
    expect(notebook.locator(".markdown-view h3")).to_have_text("A notebook")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "nothing sticks out sideways"
    unnamed = page.locator("button, select").evaluate_all(
        "bs => bs.filter(b => !(b.getAttribute('aria-label') || b.textContent.trim()))"
        ".map(b => b.outerHTML)")
    assert unnamed == []
    expect(page.locator(":focus")).to_have_attribute("class", "markdown-view")  # the first cell
    page.locator("#skip").focus()
    page.keyboard.press("Enter")  # "Skip to the editor": the notebook's first cell too
    expect(page.locator(":focus")).to_have_attribute("class", "markdown-view")
    page.keyboard.press("Shift+Enter")  # a markdown cell: on to the next cell
    expect(cell(notebook, 2)).to_have_class(re.compile(r"\bactive\b"))
    notebook.get_by_role("button", name="Run all").click()
    expect(cell(notebook, 3).locator(".cell-outputs")).to_have_text("42", timeout=KERNEL_MS)
    expect(cell(notebook, 4).locator("img.out")).to_be_visible(timeout=KERNEL_MS)

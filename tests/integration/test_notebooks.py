"""Notebooks on real Docker and NATS: a real Jupyter kernel in a hardened container per
notebook, cells through the queue at priority 0, state between cells, rich output, interrupt,
restart, close, the TTL, and no kernel shared between two sessions."""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import docker
import httpx
import pytest

from contracts import labels
from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client

Event = dict[str, Any]
pytestmark = pytest.mark.timeout(300)  # a kernel starts in ~2 s, but far slower on a busy host
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"


class Cell:
    def __init__(self, events: list[Event]) -> None:
        self.events = events

    @property
    def completion(self) -> Event:
        return self.events[-1]

    @property
    def verdict(self) -> str:
        return str(self.completion["verdict"])

    @property
    def outputs(self) -> list[Event]:
        return [e["output"] for e in self.events if e["type"] == "notebook_output"]

    def text(self) -> str:
        """stdout, stderr and text/plain results, in order."""
        parts = []
        for output in self.outputs:
            if output["output_type"] == "stream":
                parts.append(output["text"])
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
        return "".join(parts)


class Notebook:
    def __init__(self, client: Client, notebook_id: str) -> None:
        self.client = client
        self.id = notebook_id

    @classmethod
    async def open(cls, client: Client, kernel: str = "python") -> Notebook:
        notebook_id = f"nb-{uuid.uuid4().hex[:8]}"
        await client.send({"type": "notebook_open", "notebookId": notebook_id,
                           "kernel": kernel, "requestId": "open"})
        answer = await client.receive()
        assert answer == {"type": "notebook", "notebookId": notebook_id, "state": "open",
                          "kernel": kernel, "requestId": "open"}, answer
        return cls(client, notebook_id)

    async def submit(self, code: str, **extra: Any) -> Event:
        cell_id = f"c-{uuid.uuid4().hex[:8]}"
        await self.client.send({"type": "notebook_execute", "notebookId": self.id,
                                "cellId": cell_id, "code": code, "requestId": cell_id, **extra})
        return await self.answer(lambda e: e.get("requestId") == cell_id or e["type"] == "error")

    async def answer(self, wanted: Callable[[Event], bool]) -> Event:
        """The first event ``wanted``; the others stay for later readers, in order."""
        skipped = []
        while True:
            event = await self.client.receive()
            if wanted(event):
                self.client.pending = skipped + self.client.pending
                return event
            skipped.append(event)

    async def run(self, code: str, **extra: Any) -> Cell:
        queued = await self.submit(code, **extra)
        assert queued["type"] == "status" and queued["status"] == "queued", queued
        assert queued["notebookId"] == self.id and queued["cellId"]
        result = await self.client.collect(queued["executionId"])
        return Cell(result.events)

    async def command(self, kind: str) -> Event:
        await self.client.send({"type": f"notebook_{kind}", "notebookId": self.id,
                                "requestId": kind})
        return await self.answer(
            lambda e: e["type"] == "notebook" and e.get("requestId") == kind)


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    client = await Client.connect(platform.ws_url)
    yield client
    await client.close()


def kernel_containers(runner_id: str) -> list[Any]:
    engine = docker.from_env()
    try:
        return list(engine.containers.list(filters={"label": [
            f"{labels.RUNNER}={runner_id}", f"{labels.ROLE}=kernel"]}))
    finally:
        engine.close()


async def test_state_is_kept_between_cells_and_counted(client: Client) -> None:
    notebook = await Notebook.open(client)
    first = await notebook.run("x = 41")
    assert first.verdict == "ok", str(first.completion)
    second = await notebook.run("x + 1")
    assert second.verdict == "ok", second.events
    result = second.outputs[-1]
    assert result["output_type"] == "execute_result"
    assert result["data"]["text/plain"] == "42"
    assert second.completion["executionCount"] == first.completion["executionCount"] + 1
    assert second.completion["notebookId"] == notebook.id
    printed = await notebook.run("print('hello', x)")
    assert printed.outputs == [{"output_type": "stream", "name": "stdout", "text": "hello 41\n"}]


async def test_a_plot_comes_back_as_png(client: Client) -> None:
    notebook = await Notebook.open(client)
    cell = await notebook.run(PLOT)
    assert cell.verdict == "ok", cell.events
    images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, cell.outputs
    png = base64.b64decode(images[0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    html = await notebook.run("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    assert "<table" in html.outputs[-1]["data"]["text/html"]


async def test_an_exception_returns_the_traceback_and_the_kernel_survives(
        client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("y = 'kept'")
    failed = await notebook.run("1 / 0")
    assert failed.verdict == "runtime_error"
    error = failed.outputs[-1]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in error["traceback"]]
    assert any("1 / 0" in line for line in plain), plain
    after = await notebook.run("y")
    assert after.verdict == "ok" and after.text() == "'kept'"


async def test_interrupt_stops_a_loop_and_keeps_the_state(client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("z = 7")
    queued = await notebook.submit("print('looping', flush=True)\nwhile True:\n    pass")
    await notebook.answer(lambda e: e["type"] == "notebook_output")  # in the loop now
    assert (await notebook.command("interrupt"))["state"] == "interrupted"
    looped = Cell((await client.collect(queued["executionId"])).events)
    assert looped.verdict == "cancelled", looped.events
    assert any(o.get("ename") == "KeyboardInterrupt" for o in looped.outputs), str(looped.events)
    after = await notebook.run("z * 6")
    assert after.text() == "42"


async def test_a_cell_past_its_wall_limit_is_interrupted(client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("w = 1")
    slow = await notebook.run("import time\ntime.sleep(30)", limits={"wallMs": 1000})
    assert slow.verdict == "time_limit", slow.events
    assert slow.completion.get("message") is None, slow.completion  # interrupted, not removed
    after = await notebook.run("w")
    assert after.text() == "1", after.events


async def test_a_cell_past_the_kernels_memory_ends_it_and_the_next_starts_afresh(
        client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("kept = 7")
    hog = await notebook.run("hog = []\nwhile True:\n    hog.append(bytearray(2 ** 26))")
    assert (hog.verdict, hog.completion.get("message")) == (
        "runtime_error", "the kernel died (out of memory, or killed); it was restarted without "
        "its state"), hog.completion
    after = await notebook.run("kept")
    assert after.verdict == "runtime_error"
    assert after.outputs[-1]["ename"] == "NameError", after.events


async def test_stop_on_a_running_cell_interrupts_it(client: Client) -> None:
    notebook = await Notebook.open(client)
    queued = await notebook.submit("import time\ntime.sleep(30)")
    await notebook.answer(lambda e: e.get("status") == "running")
    await client.send({"type": "stop", "executionId": queued["executionId"]})
    stopped = Cell((await client.collect(queued["executionId"])).events)
    assert stopped.verdict == "cancelled", stopped.events


async def test_restart_clears_the_state(client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("v = 1")
    assert (await notebook.command("restart"))["state"] == "restarted"
    after = await notebook.run("v")
    assert after.verdict == "runtime_error"
    assert after.outputs[-1]["ename"] == "NameError"
    assert after.completion["executionCount"] == 1


async def test_restart_before_any_cell_says_no_kernel_ran(client: Client) -> None:
    notebook = await Notebook.open(client)
    assert (await notebook.command("restart"))["state"] == "none"


async def test_cells_of_one_notebook_run_in_order_one_at_a_time(client: Client) -> None:
    notebook = await Notebook.open(client)
    await notebook.run("import time\nspans = []")
    code = ("t0 = time.monotonic(); time.sleep(0.3); spans.append(({n}, t0, time.monotonic()))")
    queued = [await notebook.submit(code.format(n=n)) for n in range(5)]
    verdicts = [Cell((await client.collect(q["executionId"])).events).verdict for q in queued]
    assert verdicts == ["ok"] * 5
    spans = await notebook.run("[s[0] for s in spans], all("
                               "a[2] <= b[1] for a, b in zip(spans, spans[1:]))")
    assert spans.text() == "([0, 1, 2, 3, 4], True)"


async def test_sessions_never_share_a_kernel(platform: Running) -> None:
    alice = await Client.connect(platform.ws_url)
    bob = await Client.connect(platform.ws_url)
    try:
        same = "shared-name"
        for client in (alice, bob):
            await client.send({"type": "notebook_open", "notebookId": same})
            assert (await client.receive())["state"] == "open"
        a, b = Notebook(alice, same), Notebook(bob, same)
        await a.run("secret = 'alice'")
        peek = await b.run("secret")
        assert peek.verdict == "runtime_error" and peek.outputs[-1]["ename"] == "NameError"
        host_a = (await a.run("import socket; socket.gethostname()")).text()
        host_b = (await b.run("import socket; socket.gethostname()")).text()
        assert host_a != host_b
    finally:
        await alice.close()
        await bob.close()


async def test_the_bash_kernel(client: Client) -> None:
    notebook = await Notebook.open(client, kernel="bash")
    await notebook.run("GREETING=hello")
    cell = await notebook.run('echo "$GREETING from $(whoami)"')
    assert cell.verdict == "ok", cell.events
    assert "hello from sandbox" in cell.text()


async def test_bad_notebook_frames_get_clear_errors(client: Client) -> None:
    await client.send({"type": "notebook_execute", "notebookId": "never-opened",
                       "cellId": "c", "code": "1"})
    error = await client.receive()
    assert error["type"] == "error" and error["code"] == "not_found"
    await client.send({"type": "notebook_open", "notebookId": "has space"})
    error = await client.receive()
    assert error["type"] == "error" and error["code"] == "invalid_request"
    await client.send({"type": "notebook_open", "kernel": "cobol"})
    error = await client.receive()
    assert error["type"] == "error" and error["code"] == "invalid_request"


async def test_the_kernel_container_is_hardened_and_closing_removes_it(
        platform: Running, client: Client) -> None:
    notebook = await Notebook.open(client)
    probe = await notebook.run(
        "import os, socket\n"
        "print(os.getuid(), sorted(os.listdir('/sys/class/net')))\n"
        "try:\n    socket.create_connection(('10.0.0.1', 80), timeout=1)\n"
        "except OSError as e:\n    print('no network:', type(e).__name__)")
    assert probe.text().splitlines() == ["10001 ['lo']", "no network: OSError"], probe.text()
    hostname = (await notebook.run("import socket; socket.gethostname()")).text().strip("'")
    mine = [c for c in kernel_containers(platform.runner_id) if c.id.startswith(hostname)]
    assert len(mine) == 1
    config = mine[0].attrs["HostConfig"]
    assert config["NetworkMode"] == "none" and config["ReadonlyRootfs"]
    assert config["CapDrop"] == ["ALL"] and config["PidsLimit"] > 0 and config["Memory"] > 0
    assert (await notebook.command("close"))["state"] == "closed"
    assert not [c for c in kernel_containers(platform.runner_id) if c.id.startswith(hostname)]


async def counted_kernels(platform: Running, wanted: Callable[[int], bool]) -> int:
    """The kernels ``/api/admin/metrics`` (what ``coderunner stats`` shows) counts, once it
    is ``wanted`` (heartbeats come every 5 s; another test's kernel may still be reaped)."""
    async with httpx.AsyncClient(base_url=platform.url) as http:
        deadline = time.monotonic() + 30
        while True:
            count = int((await http.get("/api/admin/metrics")).json()["kernels"])
            if wanted(count) or time.monotonic() > deadline:
                return count
            await asyncio.sleep(0.5)


# --- the HTTP API -------------------------------------------------------------------------------


async def test_notebooks_over_the_http_api(platform: Running) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as http:
        opened = await http.post("/api/v1/notebooks", json={"kernel": "python"})
        assert opened.status_code == 201, opened.text
        notebook_id = opened.json()["notebookId"]
        cells = f"/api/v1/notebooks/{notebook_id}/cells"
        first = await http.post(f"{cells}?wait=true", json={"code": "n = 41", "cellId": "a"})
        assert first.status_code == 200 and first.json()["verdict"] == "ok", first.text
        second = (await http.post(f"{cells}?wait=true", json={"code": "n + 1"})).json()
        assert second["outputs"][-1]["data"]["text/plain"] == "42", second
        assert second["executionCount"] == 2 and second["notebookId"] == notebook_id
        again = (await http.get(f"/api/v1/executions/{second['id']}")).json()
        assert again["outputs"] == second["outputs"]
        restarted = await http.post(f"/api/v1/notebooks/{notebook_id}/restart")
        assert restarted.json()["state"] == "restarted"
        closed = await http.delete(f"/api/v1/notebooks/{notebook_id}")
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        gone = await http.post(cells, json={"code": "1"})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        bad = await http.post("/api/v1/notebooks", json={"kernel": "cobol"})
        assert bad.status_code == 400


# --- priority and TTL, on platforms of their own ------------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One execution at a time, and kernels reaped after 3 s idle."""
    with running_platform(tmp_path_factory.mktemp("capped"), MAX_CONCURRENT_SESSIONS="1",
                          KERNEL_TTL="3") as running:
        yield running


async def test_cells_wait_behind_socket_runs_when_the_cap_is_full(capped: Running) -> None:
    client = await Client.connect(capped.ws_url)
    try:
        notebook = await Notebook.open(client)
        await notebook.run("1")  # the kernel is up: what follows measures only the queue
        blocker = await client.submit({"block.py": "import time; time.sleep(2)"},
                                      request_id="block")
        await notebook.answer(lambda e: e.get("executionId") == blocker["executionId"]
                              and e.get("status") == "running")
        cell = await notebook.submit("import time; time.time()")
        later = await client.submit({"later.py": "import time; print(time.time())"},
                                    request_id="later")
        done: dict[str, Event] = {}
        for name, queued in (("blocker", blocker), ("cell", cell), ("later", later)):
            result = await client.collect(queued["executionId"])
            done[name] = result.events[-1]
        assert all(c["verdict"] == "ok" for c in done.values()), done
        assert done["blocker"]["claimedAt"] < done["later"]["claimedAt"]
        assert done["later"]["claimedAt"] < done["cell"]["claimedAt"]
    finally:
        await client.close()


async def test_idle_kernels_are_reaped_after_the_ttl(capped: Running) -> None:
    client = await Client.connect(capped.ws_url)
    try:
        notebook = await Notebook.open(client)
        hostname = (await notebook.run("import socket; a = socket.gethostname(); a")).text()

        def mine() -> list[Any]:
            return [c for c in kernel_containers(capped.runner_id)
                    if c.id.startswith(hostname.strip("'"))]

        assert len(mine()) == 1
        assert await counted_kernels(capped, lambda n: n >= 1) >= 1, "the heartbeat counts it"
        deadline = time.monotonic() + 20
        while mine() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert mine() == []
        assert await counted_kernels(capped, lambda n: n == 0) == 0
        fresh = await notebook.run("a")
        assert fresh.outputs[-1]["ename"] == "NameError"  # a new kernel, without the state
    finally:
        await client.close()


@pytest.mark.parametrize("flush", [True, False], ids=["flushed", "unflushed"])
async def test_a_cell_past_its_output_cap_is_cut_and_the_kernel_keeps_its_state(
        client: Client, flush: bool) -> None:
    """Unflushed, ipykernel would gather one output of tens of megabytes between its flushes
    (the kernel flushes every 64 KiB instead); flushed, thousands of small ones (the bridge
    drops what passes the cap, so the cell's end is not queued behind them)."""
    notebook = await Notebook.open(client)
    await notebook.run("kept = 7")
    flood = await notebook.run(f"while True:\n    print('x' * 1000, flush={flush})",
                               limits={"outputKb": 16})
    assert (flood.verdict, flood.completion.get("truncated")) == ("output_limit", True), str(
        flood.completion)
    assert 0 < len(flood.text()) <= 16 * 1024, len(flood.text())
    after = await notebook.run("kept")
    assert after.text() == "7", after.events

"""The real agent, in a real sandbox, speaks exactly the protocol of runners/agent_messages.py.

Each test starts a hardened sandbox container (runners/sandbox.py's configuration, runc), sends
it requests encoded from the runner's types and decodes every line the agent writes into the
runner's event types, strictly: a field the agent sends that the type would drop, or one it
names differently, fails the test, so the agent (stdlib dicts) and the runner (typed) cannot
drift apart. The sandbox's own container is used, with no platform around it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import socket
import struct
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable

import docker
import docker.errors
import msgspec
import pytest

from contracts.messages import Isolation
from contracts.runtimes import Runtime, load_catalog
from contracts.settings import REPO_ROOT, RunnerSettings
from runners import agent_messages as agent
from runners.packages_kernel import LAYER_PATH
from runners.sandbox import BASE_ENV, container_config

pytestmark = pytest.mark.timeout(180)
PATIENCE_S = 60.0
"""How long a test waits for the event it expects before it fails (not a performance goal)."""
CATALOG = load_catalog(REPO_ROOT / "infra" / "runtimes")
LIMITS = agent.StepLimits(wall_ms=10_000, cpu_ms=10_000, output_bytes=1 << 20)


def strictly(line: bytes) -> agent.AgentEvent:
    """The line as its event, and nothing of the line lost on the way."""
    event = agent.decode_event(line)
    sent = json.loads(line)
    kept = msgspec.to_builtins(event)
    assert {key: kept.get(key, "<dropped>") for key in sent} == sent, line
    return event


class RawAgent:
    """A sandbox container's agent, spoken to over the raw attach stream."""

    def __init__(self, api: docker.APIClient, container_id: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.api, self.container_id = api, container_id
        self.reader, self.writer = reader, writer
        self.buffer = bytearray()
        self.env: dict[str, str] = dict(BASE_ENV)
        """The environment of its runs (the zygote's, once prepared)."""

    def send(self, request: agent.AgentRequest) -> None:
        self.writer.write(agent.encode_request(request))

    def run(self, files: dict[str, str], *steps: agent.StepSpec, stdin: str = "",
            close_stdin: bool = True) -> None:
        self.send(agent.Run(files=[agent.SourceFile(name, text) for name, text in files.items()],
                            steps=list(steps), env=self.env, limits=LIMITS, stdin=stdin,
                            close_stdin=close_stdin))

    async def next(self) -> agent.AgentEvent:
        while (end := self.buffer.find(b"\n")) < 0:
            stream, size = struct.unpack(">BxxxI", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(size)
            if stream == 1:
                self.buffer += payload
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return strictly(line)

    async def until(self, last: Callable[[agent.AgentEvent], bool]) -> list[agent.AgentEvent]:
        """The events up to and including the first for which ``last`` holds."""
        events: list[agent.AgentEvent] = []

        async def collect() -> None:
            while not events or not last(events[-1]):
                events.append(await self.next())

        await asyncio.wait_for(collect(), PATIENCE_S)
        return events


def is_done(event: agent.AgentEvent) -> bool:
    return isinstance(event, agent.Done)


def output(events: list[agent.AgentEvent], stream: str = "stdout") -> str:
    return "".join(e.data for e in events if isinstance(e, agent.Output) and e.stream == stream)


@contextlib.asynccontextmanager
async def started(runtime: Runtime, isolation: Isolation = "runc") -> AsyncIterator[RawAgent]:
    settings = RunnerSettings(runner_id=f"test-agent-{uuid.uuid4().hex[:8]}")
    settings = msgspec.structs.replace(settings, platform_id=settings.runner_id)
    api = docker.APIClient()
    config = container_config(runtime, settings, "agent-protocol-test", isolation=isolation)
    host_config = api.create_host_config(**config.pop("host_config"))
    container_id = api.create_container(host_config=host_config, **config)["Id"]
    writer: asyncio.StreamWriter | None = None
    try:
        attached = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1,
                                                           "stderr": 1, "stream": 1})
        raw = getattr(attached, "_sock", attached)
        sock = socket.socket(raw.family, raw.type, fileno=os.dup(raw.fileno()))
        attached.close()
        raw.close()
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        api.start(container_id)
        yield RawAgent(api, container_id, reader, writer)
    finally:
        if writer is not None:
            writer.close()
        try:
            api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        api.close()


@pytest.fixture
async def python() -> AsyncIterator[RawAgent]:
    runtime = CATALOG.get("python")
    assert runtime is not None and runtime.fork_server is not None
    async with started(runtime) as sandbox:
        assert isinstance(await sandbox.next(), agent.Ready)
        sandbox.env = {**BASE_ENV, **runtime.env}
        sandbox.send(agent.Prepare(zygote=agent.Helper(runtime.fork_server, sandbox.env)))
        assert (await sandbox.until(lambda e: isinstance(e, agent.Prepared)))[-1] == \
            agent.Prepared(ok=True)
        yield sandbox


async def test_a_run_from_the_zygote_its_input_a_reset_and_a_ping(python: RawAgent) -> None:
    program = "import sys\nprint(sys.stdin.readline().upper(), end='', flush=True)\nprint(input())"
    python.run({"main.py": program}, agent.StepSpec("run", ["python3", "main.py"], zygote=True),
               stdin="given\n", close_stdin=False)
    python.send(agent.Stdin("typed\n"))
    python.send(agent.Eof())
    events = await python.until(is_done)
    assert output(events) == "GIVEN\ntyped\n"
    assert agent.StdinAck(6) in events
    done = events[-1]
    assert isinstance(done, agent.Done)
    assert (done.phase, done.exit_code, done.signal, done.error) == ("run", 0, None, None)
    assert done.wall_ms is not None and done.memory_kb > 0
    python.send(agent.Reset())
    python.send(agent.Ping())
    assert (await python.until(lambda e: isinstance(e, agent.Pong)))[-2:] == [
        agent.ResetDone(ok=True), agent.Pong()]


async def test_a_stopped_run_and_runs_that_cannot_start(python: RawAgent) -> None:
    loop = "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.1)\n"
    python.run({"main.py": loop}, agent.StepSpec("run", ["python3", "main.py"]))
    assert output(await python.until(lambda e: isinstance(e, agent.Output))) == "looping\n"
    python.send(agent.Stop())
    stopped = (await python.until(is_done))[-1]
    assert isinstance(stopped, agent.Done)
    assert (stopped.stopped, stopped.signal, stopped.exit_code) == (True, "SIGKILL", None)
    python.send(agent.Reset())
    await python.until(lambda e: isinstance(e, agent.ResetDone))
    python.run({"../escape.py": ""}, agent.StepSpec("run", ["python3", "main.py"]))
    refused = (await python.until(is_done))[-1]
    assert isinstance(refused, agent.Done) and refused.phase == "setup"
    assert refused.error is not None and "must not contain" in refused.error
    python.run({}, agent.StepSpec("run", ["/no/such/program"]))
    missing = (await python.until(is_done))[-1]
    assert isinstance(missing, agent.Done)
    assert (missing.phase, missing.exit_code) == ("run", 127)
    assert missing.error is not None and missing.error.startswith("cannot start")


async def test_a_program_killed_by_a_real_time_signal_is_reported_naming_it(
        python: RawAgent) -> None:
    """``signal.Signals`` names none of SIGRTMIN+1 … SIGRTMAX-1: the agent names them itself."""
    python.run({"main.py": "import os, signal\nos.kill(os.getpid(), signal.SIGRTMIN + 1)\n"},
               agent.StepSpec("run", ["python3", "main.py"], zygote=True))
    done = (await python.until(is_done))[-1]
    assert isinstance(done, agent.Done)
    assert (done.signal, done.exit_code, done.error) == ("SIGRTMIN+1", None, None)


async def test_a_notebook_kernel_relays_the_bridge_and_refuses_programs(
        python: RawAgent) -> None:
    bridge = ["python3", "-I", "/opt/coderunner/kernel_bridge.py", "python"]
    python.send(agent.StartKernel(bridge, python.env))
    ready = await python.until(lambda e: isinstance(e, agent.FromKernel))
    assert isinstance(ready[-1], agent.FromKernel) and ready[-1].data["msg"] == "ready"
    python.send(agent.ToKernel({"op": "execute", "id": "cell-1", "code": "print(6 * 7)"}))
    cell = await python.until(lambda e: isinstance(e, agent.FromKernel)
                              and e.data.get("msg") == "done")
    texts = [e.data["output"].get("text") for e in cell
             if isinstance(e, agent.FromKernel) and e.data.get("msg") == "output"]
    assert texts == ["42\n"]
    python.run({"main.py": "print(1)"}, agent.StepSpec("run", ["python3", "main.py"]))
    refused = (await python.until(is_done))[-1]
    assert refused == agent.Done(phase="setup", error="this sandbox holds a kernel")


def kernel_done(event: agent.AgentEvent) -> bool:
    return isinstance(event, agent.FromKernel) and event.data.get("msg") == "done"


async def test_an_interrupt_sent_right_after_its_cell_stops_it_and_keeps_the_kernel(
        python: RawAgent) -> None:
    """The IDE's Interrupt a moment after Run: the interrupt reaches the bridge before the
    kernel took the cell (ipykernel ignores SIGINT between requests), and the bridge holds it
    until the kernel begins the cell. Sent in one write, as the runner may; before, the cell
    slept on and the runner removed the kernel with its state."""
    bridge = ["python3", "-I", "/opt/coderunner/kernel_bridge.py", "python"]
    python.send(agent.StartKernel(bridge, python.env))
    await python.until(lambda e: isinstance(e, agent.FromKernel))
    python.send(agent.ToKernel({"op": "execute", "id": "cell-1", "code": "kept = 42"}))
    await python.until(kernel_done)
    python.writer.write(
        agent.encode_request(agent.ToKernel({"op": "execute", "id": "cell-2",
                                             "code": "import time\ntime.sleep(600)"}))
        + agent.encode_request(agent.ToKernel({"op": "interrupt"})))
    done = (await python.until(kernel_done))[-1]
    assert isinstance(done, agent.FromKernel)
    assert (done.data["id"], done.data["status"]) == ("cell-2", "error")
    python.send(agent.ToKernel({"op": "execute", "id": "cell-3", "code": "print(kept)"}))
    cell = await python.until(kernel_done)
    assert [e.data["output"].get("text") for e in cell if isinstance(e, agent.FromKernel)
            and e.data.get("msg") == "output"] == ["42\n"]


SLOW_TRANSFORM = """import time
def slow_to_start(lines):
    if lines and lines[0].startswith("# slow"):
        time.sleep(5)
    return lines
get_ipython().input_transformers_cleanup.append(slow_to_start)
kept = 42
"""
"""A transformer ipykernel runs after it announced a cell (``execute_input``) and before the
cell's code: an interrupt sent as the cell begins lands in it, in ipykernel's own code."""


async def test_an_interrupt_that_lands_before_the_cells_code_ends_the_cell(
        python: RawAgent) -> None:
    """ipykernel catches a KeyboardInterrupt raised in its own code around a cell ("caught in
    kernel") and goes idle without answering: the bridge ends the cell ``error`` with the
    interrupt's error (it waited for the answer forever, and the runner removed the kernel)."""
    bridge = ["python3", "-I", "/opt/coderunner/kernel_bridge.py", "python"]
    python.send(agent.StartKernel(bridge, python.env))
    await python.until(lambda e: isinstance(e, agent.FromKernel))
    python.send(agent.ToKernel({"op": "execute", "id": "cell-1", "code": SLOW_TRANSFORM}))
    made = (await python.until(kernel_done))[-1]
    assert isinstance(made, agent.FromKernel) and made.data["status"] == "ok", made
    python.send(agent.ToKernel({"op": "execute", "id": "cell-2",
                                "code": "# slow\nprint('ran')"}))
    python.send(agent.ToKernel({"op": "interrupt"}))
    cell = await python.until(kernel_done)
    done = cell[-1]
    assert isinstance(done, agent.FromKernel)
    assert (done.data["id"], done.data["status"]) == ("cell-2", "error")
    errors = [e.data["output"] for e in cell if isinstance(e, agent.FromKernel)
              and e.data.get("msg") == "output" and e.data["output"]["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["KeyboardInterrupt"]
    python.send(agent.ToKernel({"op": "execute", "id": "cell-3", "code": "print(kept)"}))
    cell = await python.until(kernel_done)
    assert [e.data["output"].get("text") for e in cell if isinstance(e, agent.FromKernel)
            and e.data.get("msg") == "output"] == ["42\n"]


@pytest.fixture
async def kernel_sandbox() -> AsyncIterator[RawAgent]:
    """A python sandbox as a kernel's is: no warm helpers."""
    runtime = CATALOG.get("python")
    assert runtime is not None
    async with started(runtime) as sandbox:
        assert isinstance(await sandbox.next(), agent.Ready)
        sandbox.env = {**BASE_ENV, **runtime.env}
        yield sandbox


async def test_a_package_layer_is_unpacked_read_only_for_the_kernel_and_gone_after_a_restart(
        kernel_sandbox: RawAgent) -> None:
    """``%pip install`` (docs/packages.md, Notebooks): the agent unpacks a layer's tar, sent in
    pieces, root-owned on /tmp; the kernel imports it and cannot change it; a restart removes
    it and passes the reset's check (the kernel comes back in the same container)."""
    python = kernel_sandbox
    bridge = ["python3", "-I", "/opt/coderunner/kernel_bridge.py", "python"]
    python.send(agent.StartKernel(bridge, python.env))
    await python.until(lambda e: isinstance(e, agent.FromKernel))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo("agentpkg")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        module = tarfile.TarInfo("agentpkg/__init__.py")
        module.size = 6
        archive.addfile(module, io.BytesIO(b"X = 7\n"))
    tar, key = buffer.getvalue(), "ab" * 16
    python.send(agent.PutLayer(key, base64.b64encode(tar[:700]).decode()))
    python.send(agent.PutLayer(key, base64.b64encode(tar[700:]).decode(), last=True))
    put = (await python.until(lambda e: isinstance(e, agent.LayerPut)))[-1]
    assert isinstance(put, agent.LayerPut) and put.ok, put
    assert LAYER_PATH.match(put.path), put.path

    async def cell(code: str) -> str:
        python.send(agent.ToKernel({"op": "execute", "id": code[:20], "code": code}))
        events = await python.until(lambda e: isinstance(e, agent.FromKernel)
                                    and e.data.get("msg") == "done")
        return "".join(e.data["output"].get("text", "") for e in events
                       if isinstance(e, agent.FromKernel) and e.data.get("msg") == "output")

    assert await cell(f"import sys\nsys.path.insert(0, {put.path!r})\nimport agentpkg\n"
                      "print(agentpkg.X)\ntry:\n    open(agentpkg.__file__, 'a')\n"
                      "except OSError as e:\n    print(e.errno)") == "7\n13\n"
    python.send(agent.RestartKernel())
    back = await python.until(lambda e: isinstance(e, (agent.FromKernel, agent.ResetDone)))
    assert isinstance(back[-1], agent.FromKernel) and back[-1].data["msg"] == "ready", back
    assert await cell(f"import os\nprint(os.path.exists({put.path!r}))") == "False\n"


async def test_a_compile_step_reports_its_diagnostics_and_a_compiled_program_runs() -> None:
    runtime = CATALOG.get("c")
    assert runtime is not None and runtime.compile is not None
    compile_step = agent.StepSpec("compile", ["gcc", "-o", "/tmp/prog", "main.c"])
    run_step = agent.StepSpec("run", ["/tmp/prog"])
    async with started(runtime) as gcc:
        assert isinstance(await gcc.next(), agent.Ready)
        gcc.run({"main.c": "int main(void) { return nope; }\n"}, compile_step, run_step)
        failed = await gcc.until(is_done)
        assert "nope" in output(failed, "stderr") and output(failed) == ""
        assert isinstance(failed[-1], agent.Done)
        assert (failed[-1].phase, failed[-1].exit_code) == ("compile", 1)
        assert steps(failed) == ["compile"]
        gcc.send(agent.Reset())
        await gcc.until(lambda e: isinstance(e, agent.ResetDone))
        hello = '#include <stdio.h>\nint main(void) { puts("hi"); return 3; }\n'
        gcc.run({"main.c": hello}, compile_step, run_step)
        ran = await gcc.until(is_done)
        assert output(ran) == "hi\n"
        assert isinstance(ran[-1], agent.Done)
        assert (ran[-1].phase, ran[-1].exit_code) == ("run", 3)
        assert steps(ran) == ["compile", "run"]


def steps(events: list[agent.AgentEvent]) -> list[str]:
    """The phases of the steps a run of several started, in order."""
    return [e.phase for e in events if isinstance(e, agent.StepStarted)]

"""``%pip install`` cells (runners/packages_kernel.py) with the agent, Docker and pip faked, and
the agent's side (runners/agent/agent_kernels.py, KernelLayers) on a temporary directory."""

from __future__ import annotations

import asyncio
import base64
import importlib
import io
import os
import stat
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from contracts.messages import CellJob, Control, NotebookOutputEvent
from contracts.runtimes import Runtime
from contracts.settings import REPO_ROOT
from runners import agent_messages as agent
from runners.notebooks import CellLimits, Kernels
from runners.packages import Layer, PackagesFailed
from runners.packages_kernel import STOPPED, KernelPackages
from runners.packages_requests import PackageRequest
from runners.sandbox import Sandbox

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
KernelLayers: Any = importlib.import_module("agent_kernels").KernelLayers
PYTHON = Runtime("python", "Python", ".py", "python:1", ["python3", "{main}"])
KEY = "ab" * 16
PATH = f"/tmp/.coderunner-packages-{KEY[:12]}-x1y2"


def a_tar(files: dict[str, bytes], dirs: tuple[str, ...] = ("tinypkg",)) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class KernelAgent:
    """An agent that takes a layer (answering ``answer``) and runs the kernel's statements."""

    def __init__(self, answer: agent.LayerPut) -> None:
        self.closed = False
        self.answer = answer
        self.pieces: list[agent.PutLayer] = []
        self.statements: list[str] = []
        self.events: asyncio.Queue[agent.AgentEvent] = asyncio.Queue()

    async def send(self, command: agent.AgentRequest, timeout: float | None = None) -> None:
        self.write_now(command)

    def write_now(self, command: agent.AgentRequest) -> None:
        if isinstance(command, agent.PutLayer):
            self.pieces.append(command)
            if command.last:
                self.events.put_nowait(agent.FromKernel({"msg": "output", "id": "old"}))
                self.events.put_nowait(self.answer)
        elif isinstance(command, agent.StartKernel):
            self.events.put_nowait(agent.FromKernel({"msg": "ready"}))
        elif isinstance(command, agent.ToKernel) and command.data["op"] == "execute":
            self.statements.append(command.data["code"])
            self.events.put_nowait(agent.FromKernel(
                {"msg": "done", "id": command.data["id"], "status": "ok"}))

    async def next_event(self, timeout: float | None = None) -> agent.AgentEvent:
        return await self.events.get()


class FakePackages:
    """Packages whose layer was built before (or fails to be)."""

    def __init__(self, tar: bytes, failure: str | None = None) -> None:
        self.tar, self.failure = tar, failure
        self.settings = type("S", (), {"max_layer_mb": 4})()
        self.layers = self
        self.asked: list[PackageRequest] = []
        self.reads = 0

    async def layer_of(self, request: PackageRequest, runtime: Runtime, isolation: str,
                       say: Any) -> Layer:
        self.asked.append(request)
        await say("Installed tinypkg-1.0-py3-none-any.whl\n")
        if self.failure:
            raise PackagesFailed(self.failure)
        return Layer(f"coderunner-packages-{KEY}", "/opt/packages", {})

    async def read(self, volume: str, image: str, max_bytes: int) -> bytes:
        self.reads += 1
        return self.tar


def cell(code: str, kernel: str = "python") -> CellJob:
    return CellJob(execution_id="e1", owner="key:ann", priority=0, submitted_at=0.0,
                   notebook_id="nb", cell_id="c1", code=code, kernel=kernel)


async def run_cell(code: str, packages: Any, answer: agent.LayerPut | None = None,
                   kernel: str = "python", installer: KernelPackages | None = None,
                   ) -> tuple[Any, list[dict[str, Any]], KernelAgent]:
    link = KernelAgent(answer or agent.LayerPut(True, PATH))
    sandbox = Sandbox("k0", "python", link, 512, 64)  # type: ignore[arg-type]
    published: list[dict[str, Any]] = []

    async def publish(event: Any) -> None:
        assert isinstance(event, NotebookOutputEvent)
        published.append(event.output)

    installer = installer or KernelPackages(packages, PYTHON)
    result = await installer.cell(sandbox, cell(code, kernel), 65536, publish)
    return result, published, link


async def test_a_pip_cell_puts_the_layer_into_the_kernel_and_on_its_path() -> None:
    tar = a_tar({"tinypkg/__init__.py": b"VERSION = '1.0'\n"}) * 3  # more than one piece
    packages = FakePackages(tar)
    result, outputs, link = await run_cell("%pip install tinypkg==1.0", packages)
    assert result == ("ok", None)
    assert [p.key for p in link.pieces] == [KEY] * len(link.pieces)
    assert [p.last for p in link.pieces][-1] is True
    assert b"".join(base64.b64decode(p.data) for p in link.pieces) == tar
    assert link.statements and repr(PATH) in link.statements[0]
    assert outputs[0] == {"output_type": "stream", "name": "stdout",
                          "text": "Installed tinypkg-1.0-py3-none-any.whl\n"}
    assert "Installed in this kernel: tinypkg." in outputs[-1]["text"]


async def test_a_layer_asked_for_again_is_read_from_its_volume_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tar = a_tar({"tinypkg/__init__.py": b"VERSION = '1.0'\n"})
    packages = FakePackages(tar)
    installer = KernelPackages(packages, PYTHON)  # type: ignore[arg-type]
    for _ in range(3):
        result, _, link = await run_cell("%pip install tinypkg", packages, installer=installer)
        assert result == ("ok", None)
        assert b"".join(base64.b64decode(p.data) for p in link.pieces) == tar
    assert packages.reads == 1
    monkeypatch.setattr("runners.packages_kernel.READ_CACHE_BYTES", len(tar) - 1)
    for _ in range(3):  # the copy kept once more, then each read again: too large to keep
        await run_cell("%pip install tinypkg", packages, installer=installer)
    assert packages.reads == 3


class EndlessPackages(FakePackages):
    """An install that never ends unless cancelled."""

    def __init__(self) -> None:
        super().__init__(b"")
        self.cancelled = False

    async def layer_of(self, request: PackageRequest, runtime: Runtime, isolation: str,
                       say: Any) -> Layer:
        await say("Collecting\n")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("never")


async def test_a_stop_during_the_install_cancels_it_and_the_cell() -> None:
    packages = EndlessPackages()
    link = KernelAgent(agent.LayerPut(True, PATH))
    sandbox = Sandbox("k0", "python", link, 512, 64)  # type: ignore[arg-type]
    stop = asyncio.Event()
    said = asyncio.Event()
    outputs: list[dict[str, Any]] = []

    async def publish(event: Any) -> None:
        outputs.append(event.output)
        said.set()

    installing = asyncio.create_task(KernelPackages(packages, PYTHON).cell(  # type: ignore[arg-type]
        sandbox, cell("%pip install tinypkg"), 65536, publish, stop))
    await said.wait()  # the install has begun
    stop.set()
    result = await installing
    assert result is not None and result[0] == "cancelled"
    assert (packages.cancelled, link.pieces) == (True, [])
    assert outputs[-1]["text"] == f"{result[1]}\n"
    assert "nothing was installed" in outputs[-1]["text"]


async def test_a_stop_of_a_pip_cell_reaches_its_install_through_the_kernels() -> None:
    handlers: dict[str, Any] = {}

    class Subscription:
        async def unsubscribe(self) -> None:
            pass

    async def subscribe(name: str) -> Any:
        async def subscribed(_: str, handler: Any) -> Subscription:
            handlers[name] = handler
            return Subscription()
        return subscribed

    async def create() -> Sandbox:
        return Sandbox("k0", "python", KernelAgent(agent.LayerPut(True, PATH)),  # type: ignore[arg-type]
                       512, 64)

    async def destroy(sandbox: Sandbox) -> None:
        pass

    packages = EndlessPackages()
    said = asyncio.Event()

    async def publish(event: Any) -> None:
        said.set()

    kernels = Kernels(create, destroy, destroy, {}, 60, await subscribe("commands"),
                      await subscribe("control"),
                      packages=KernelPackages(packages, PYTHON))  # type: ignore[arg-type]
    running = asyncio.create_task(kernels.run(cell("%pip install a"), CellLimits(10_000, 65536),
                                              publish, 0))
    await said.wait()  # the install is under way: a stop ends it
    await handlers["control"](Control("e1", "stop"))
    completion = await asyncio.wait_for(running, 10)
    assert (completion.verdict, completion.message) == ("cancelled", STOPPED)
    assert packages.cancelled


def test_the_path_statement_leaves_no_name_and_puts_the_layer_after_the_working_directory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from runners.packages_kernel import ON_PATH
    monkeypatch.setattr(sys, "path", ["", "/usr/lib/python3"])
    monkeypatch.setenv("PYTHONPATH", "/other")
    namespace: dict[str, Any] = {}
    for _ in range(2):
        exec(ON_PATH.format(path=PATH), namespace)
    assert set(namespace) == {"__builtins__"}
    assert sys.path == ["", PATH, "/usr/lib/python3"]
    assert os.environ["PYTHONPATH"] == f"{PATH}:/other"


@pytest.mark.parametrize(("code", "said"), [
    ("%pip install -r requirements.txt", "the notebook has no such file"),
    ("%pip freeze", "only %pip install"),
])
async def test_a_pip_form_not_supported_is_a_compile_error_in_the_cell(
        code: str, said: str) -> None:
    packages = FakePackages(b"")
    (verdict, message), outputs, link = await run_cell(code, packages)
    assert verdict == "compile_error" and said in message
    assert outputs == [{"output_type": "stream", "name": "stderr", "text": f"{message}\n"}]
    assert packages.asked == [] and link.pieces == []


async def test_an_install_that_fails_is_a_compile_error_with_pips_words() -> None:
    packages = FakePackages(b"", failure="No matching distribution found for nosuchpkg")
    (verdict, message), outputs, link = await run_cell("%pip install nosuchpkg", packages)
    assert (verdict, message) == ("compile_error", "No matching distribution found for nosuchpkg")
    assert outputs[-1] == {"output_type": "stream", "name": "stderr", "text": f"{message}\n"}
    assert link.pieces == []


async def test_a_layer_the_agent_cannot_unpack_is_a_compile_error() -> None:
    answer = agent.LayerPut(False, error="the packages need 9000 KiB, the kernel's /tmp has 10")
    (verdict, message), _, link = await run_cell("%pip install tinypkg", FakePackages(b"x"),
                                                 answer)
    assert verdict == "compile_error" and "/tmp has 10" in message
    assert link.statements == []


async def test_other_cells_and_bash_kernels_are_left_to_the_kernel() -> None:
    assert (await run_cell("x = 1", FakePackages(b"")))[0] is None
    assert (await run_cell("%pip install a", FakePackages(b""), kernel="bash"))[0] is None


async def test_a_runner_without_packages_refuses_a_pip_cell() -> None:
    (verdict, message), _, _ = await run_cell("%pip install a", None)
    assert (verdict, message) == ("compile_error", "this runner does not install packages")


# --- the agent's side ------------------------------------------------------------------------


def put(layers: Any, tar: bytes, key: str = KEY) -> None:
    half = len(tar) // 2
    layers.put({"op": "put_layer", "key": key, "data": base64.b64encode(tar[:half]).decode()})
    layers.put({"op": "put_layer", "key": key, "data": base64.b64encode(tar[half:]).decode(),
                "last": True})


def answers(capfd: pytest.CaptureFixture[str]) -> list[agent.AgentEvent]:
    return [agent.decode_event(line.encode()) for line in capfd.readouterr().out.splitlines()]


def test_the_agent_unpacks_a_layer_read_only_in_a_new_directory_once(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    layers = KernelLayers(str(tmp_path))
    tar = a_tar({"tinypkg/__init__.py": b"VERSION = '1.0'\n"})
    put(layers, tar)
    put(layers, tar)
    first, second = answers(capfd)
    assert isinstance(first, agent.LayerPut) and first.ok and first == second
    (made,) = tmp_path.iterdir()
    assert str(made) == first.path and made.name.startswith(f".coderunner-packages-{KEY[:12]}-")
    module = made / "tinypkg" / "__init__.py"
    assert module.read_text() == "VERSION = '1.0'\n"
    assert stat.S_IMODE(module.stat().st_mode) == 0o644
    assert {stat.S_IMODE(p.stat().st_mode) for p in (made, made / "tinypkg")} == {0o755}
    layers.remove_all()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../escaped.py", "/abs.py"])
def test_the_agent_refuses_a_name_outside_the_layer_and_leaves_nothing(
        name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    layers = KernelLayers(str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    put(layers, a_tar({name: b"x"}, dirs=()))
    (answer,) = answers(capfd)
    assert isinstance(answer, agent.LayerPut) and not answer.ok
    assert "outside its directory" in str(answer.error)
    assert list((tmp_path / "tmp").iterdir()) == [] and list(tmp_path.iterdir()) == [
        tmp_path / "tmp"]


def test_the_agent_says_when_the_layer_does_not_fit(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    full = os.statvfs_result((4096, 4096, 100, 0, 0, 100, 0, 0, 0, 255))
    monkeypatch.setattr(os, "statvfs", lambda _: full)
    put(KernelLayers(str(tmp_path)), a_tar({"tinypkg/a.py": b"x" * 10}))
    (answer,) = answers(capfd)
    assert isinstance(answer, agent.LayerPut) and not answer.ok
    assert "the kernel's /tmp has 0 KiB free" in str(answer.error)
    assert list(tmp_path.iterdir()) == []


def test_the_agent_refuses_a_key_that_is_not_hex(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    put(KernelLayers(str(tmp_path)), a_tar({}), key="../x")
    (answer,) = answers(capfd)
    assert isinstance(answer, agent.LayerPut) and not answer.ok
    assert "hex" in str(answer.error) and list(tmp_path.iterdir()) == []

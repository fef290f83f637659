"""Which layer a run's packages come from (runners/packages.py), Docker and pip/npm faked."""

from __future__ import annotations

import asyncio
import io
import tarfile
from typing import Any

import pytest

from contracts.packages import PackageSettings
from contracts.runtimes import Runtime
from runners import packages
from runners.packages import Packages, runtime_with
from runners.packages_fetch import Artifact, Fetched
from runners.packages_requests import PackageRequest

NODE = Runtime("javascript", "JavaScript", ".js", "node:1", ["node", "{main}"],
               env={"LANG": "C.UTF-8"})
NPM = PackageRequest("npm", ["a"], '{"dependencies": {"a": "1.0.0"}}')


class FakeLayers:
    def __init__(self) -> None:
        self.stored: set[str] = set()

    async def exists(self, volume: str) -> bool:
        return volume in self.stored

    async def store(self, volume: str, key: str, layer: bytes, size: int, image: str) -> None:
        self.stored.add(volume)


def a_layer() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("a/index.js")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"1\n"))
    return buffer.getvalue()


class Counted:
    """How often the packages were fetched and installed."""

    fetches = 0
    installs = 0


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counts = Counted()

    async def fetch(request: PackageRequest, settings: PackageSettings, python: str) -> Fetched:
        counts.fetches += 1
        await asyncio.sleep(0.01)  # a download: another run of the same request may come
        return Fetched(request.kind, [Artifact("0.tgz", b"a")], "[]")

    async def install(self: Packages, *args: Any) -> bytes:
        counts.installs += 1
        await asyncio.sleep(0.01)
        return a_layer()

    monkeypatch.setattr(packages, "fetch", fetch)
    monkeypatch.setattr(Packages, "_install", install)
    return counts


def packages_with(versions: dict[str, str]) -> Packages:
    layers: Any = FakeLayers()
    return Packages(PackageSettings(), layers, None, versions)  # type: ignore[arg-type]


JOB: Any = None
"""Only the install (faked here) reads the job."""


async def publish(event: object) -> None:
    pass


async def test_an_npm_layer_adds_nothing_to_the_environment(counted: Counted) -> None:
    """Node finds /node_modules from /workspace: NODE_PATH (which ESM ignores) is not set."""
    found = packages_with({"javascript": "22.1.0"})
    layer = await found.layer_for(JOB, NPM, NODE, "runc", publish)
    assert layer.mount == "/node_modules"
    assert runtime_with(NODE, layer).env == NODE.env


async def test_the_same_packages_asked_at_once_are_fetched_and_installed_once(
    counted: Counted,
) -> None:
    found = packages_with({"javascript": "22.1.0"})
    layers = await asyncio.gather(*(found.layer_for(JOB, NPM, NODE, "runc", publish)
                                    for _ in range(3)))
    assert len({layer.volume for layer in layers}) == 1
    assert (counted.fetches, counted.installs) == (1, 1)
    await found.layer_for(JOB, NPM, NODE, "runc", publish)
    assert counted.fetches == 1  # known: one look-up that the volume is there


async def test_a_request_known_for_one_image_is_installed_again_for_another(
    counted: Counted,
) -> None:
    """The layer's key has the image and its language's version: so has what is known."""
    typescript = Runtime("typescript", "TypeScript", ".ts", "typescript:1", ["node", "{main}"])
    found = packages_with({"javascript": "22.1.0", "typescript": "5.4.0"})
    for_node = await found.layer_for(JOB, NPM, NODE, "runc", publish)
    for_typescript = await found.layer_for(JOB, NPM, typescript, "runc", publish)
    assert for_node.volume != for_typescript.volume
    assert (counted.fetches, counted.installs) == (2, 2)

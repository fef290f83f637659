"""What the runner keeps of the layer an install sandbox sent (docs/packages.md)."""

from __future__ import annotations

import asyncio
import io
import tarfile
from types import SimpleNamespace

import docker.errors
import pytest

from contracts.packages import LAYER_BYTES
from contracts.settings import RunnerSettings
from runners.packages_layers import DockerLayers, LayerRefused, clean_layer


def layer(*members: tuple[str, bytes | None, bytes]) -> bytes:
    """(name, content, type) members; a link's content is its target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content, kind in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid = kind, 0o4777, 1234
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = (content or b"").decode()
                archive.addfile(info)
            elif kind == tarfile.REGTYPE:
                info.size = len(content or b"")
                archive.addfile(info, io.BytesIO(content or b""))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def members(data: bytes) -> dict[str, tuple[bytes, int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: (archive.extractfile(m).read() if m.isfile() else b"",  # type: ignore[union-attr]
                         m.mode, m.uid) for m in archive}


def test_only_files_and_directories_inside_are_kept_root_owned_without_special_modes() -> None:
    raw = layer(("pkg", None, tarfile.DIRTYPE), ("pkg/__init__.py", b"x = 1\n", tarfile.REGTYPE),
                ("pkg/passwd", b"/etc/passwd", tarfile.SYMTYPE),
                ("pkg/hard", b"/etc/shadow", tarfile.LNKTYPE),
                ("../outside.py", b"evil", tarfile.REGTYPE),
                ("/etc/cron.d/evil", b"evil", tarfile.REGTYPE),
                ("pkg/dev", None, tarfile.CHRTYPE))
    clean, size = clean_layer(raw, 2**20)
    assert members(clean) == {"pkg": (b"", 0o755, 0), "pkg/__init__.py": (b"x = 1\n", 0o755, 0)}
    assert size == 6


def test_a_layer_over_its_size_is_refused() -> None:
    raw = layer(("big", b"x" * 2048, tarfile.REGTYPE))
    with pytest.raises(LayerRefused, match="exceed"):
        clean_layer(raw, 1024)


def test_an_unreadable_layer_is_refused() -> None:
    with pytest.raises(LayerRefused, match="unreadable"):
        clean_layer(b"not a tar" * 100, 2**20)


async def test_the_layers_are_counted_in_the_background_and_a_failed_count_keeps_the_last() -> None:
    answers: list[object] = [
        {"Volumes": [{"Labels": {LAYER_BYTES: "100"}}, {"Labels": {LAYER_BYTES: "20"}}]},
        docker.errors.APIError("busy"),
    ]

    calls = 0

    def volumes(filters: dict[str, list[str]]) -> object:
        nonlocal calls
        calls += 1
        answer = answers[min(calls, len(answers)) - 1]  # then busy for good
        if isinstance(answer, Exception):
            raise answer
        return answer

    layers = DockerLayers(RunnerSettings())
    layers._api = SimpleNamespace(volumes=volumes)  # type: ignore[assignment]
    counting = asyncio.create_task(layers.keep_counted(every_s=0.01))
    try:
        while calls < 3:
            await asyncio.sleep(0.01)
    finally:
        counting.cancel()
    assert (layers.count, layers.bytes) == (2, 120)


class ArchiveApi:
    """Docker's API as ``DockerLayers.read`` uses it: a helper container and its archive."""

    def __init__(self, archive: bytes) -> None:
        self.archive = archive
        self.mounts: list[object] = []
        self.removed: list[str] = []

    def create_host_config(self, **config: object) -> dict[str, object]:
        self.mounts = list(config["mounts"])  # type: ignore[call-overload]
        return config

    def create_container(self, image: str, **config: object) -> dict[str, str]:
        return {"Id": "helper"}

    def get_archive(self, container: str, path: str) -> tuple[object, dict[str, str]]:
        assert path == "/opt/packages/."
        return (self.archive[i:i + 512] for i in range(0, len(self.archive), 512)), {}

    def remove_container(self, container: str, force: bool = False) -> None:
        self.removed.append(container)


async def test_a_layer_is_read_back_read_only_and_cleaned_and_its_helper_removed() -> None:
    raw = layer((".", None, tarfile.DIRTYPE), ("./pkg", None, tarfile.DIRTYPE),
                ("./pkg/__init__.py", b"x = 1\n", tarfile.REGTYPE),
                ("./pkg/link", b"/etc/passwd", tarfile.SYMTYPE))
    layers = DockerLayers(RunnerSettings())
    api = ArchiveApi(raw)
    layers._api = api  # type: ignore[assignment]
    clean = await layers.read("coderunner-packages-ab", "python:1", 2**20)
    assert members(clean) == {"pkg": (b"", 0o755, 0), "pkg/__init__.py": (b"x = 1\n", 0o755, 0)}
    assert [m["ReadOnly"] for m in api.mounts] == [True]  # type: ignore[index]
    assert api.removed == ["helper"]


async def test_a_layer_read_back_over_its_size_is_refused_and_its_helper_removed() -> None:
    layers = DockerLayers(RunnerSettings())
    api = ArchiveApi(layer(("big", b"x" * 4096, tarfile.REGTYPE)))
    layers._api = api  # type: ignore[assignment]
    with pytest.raises(LayerRefused, match="exceed"):
        await layers.read("coderunner-packages-ab", "python:1", 1024)
    assert api.removed == ["helper"]

"""Package layers: Docker volumes holding an installed package set, written once from a tar the
runner checked in memory, then only ever mounted read-only.

The host never opens a path an install sandbox made: the sandbox sends its layer as a tar on its
stdout, ``clean_layer`` keeps only regular files and directories with relative names inside the
layer (within the size and count limits) and builds a new root-owned tar, and Docker unpacks
that into a fresh volume through a helper container that is created and never started.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import tarfile
from typing import Any

import docker
import docker.errors
import requests

from contracts import labels
from contracts.packages import LAYER_BYTES, LAYER_KEY, LAYER_MOUNT, LAYER_PREFIX, LAYER_ROLE
from contracts.settings import RunnerSettings

log = logging.getLogger(__name__)
MAX_FILES = 50_000
COUNT_EVERY_S = 60.0
"""How often the layers' count and size are read from Docker again (the janitor removes
layers; the runner's heartbeat reads the numbers kept, never Docker)."""


class LayerRefused(Exception):
    """The layer an install sandbox sent is not one the runner keeps."""


def volume_name(key: str) -> str:
    return f"{LAYER_PREFIX}{key[:32]}"


def clean_layer(raw: bytes, max_bytes: int, max_files: int = MAX_FILES) -> tuple[bytes, int]:
    """A new tar of the regular files and directories of ``raw`` (root-owned, modes 0644 or
    0755, nothing else kept) and the size of its files; LayerRefused past the limits."""
    out = io.BytesIO()
    size = count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as source, \
                tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as clean:
            for member in source:
                name = _inside(member.name)
                if name is None or not (member.isfile() or member.isdir()):
                    continue  # symlinks, links, devices, names that leave the layer: dropped
                count += 1
                size += member.size if member.isfile() else 0
                if size > max_bytes or count > max_files:
                    raise LayerRefused(f"the installed packages exceed {max_bytes // 2**20} MiB "
                                       f"or {max_files} files")
                _copy(source, clean, member, name)
    except tarfile.TarError as exc:
        raise LayerRefused(f"the install sent an unreadable layer: {exc}") from None
    return out.getvalue(), size


def _inside(name: str) -> str | None:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts or "\\" in name or "\0" in name:
        return None
    return "/".join(parts)


def _copy(source: tarfile.TarFile, clean: tarfile.TarFile, member: tarfile.TarInfo,
          name: str) -> None:
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.mtime = 0
    if member.isdir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        clean.addfile(info)
        return
    info.size = member.size
    info.mode = 0o755 if member.mode & 0o111 else 0o644
    clean.addfile(info, source.extractfile(member))


class DockerLayers:
    """Layer volumes on one Docker engine; blocking calls run in threads."""

    def __init__(self, settings: RunnerSettings) -> None:
        self._settings = settings
        base_url = settings.docker_host or "unix:///var/run/docker.sock"
        self._api = docker.APIClient(base_url=base_url, timeout=120)
        self.count = 0
        """This platform's layers on this engine, as last counted or stored."""
        self.bytes = 0
        """Their files' bytes."""

    async def exists(self, volume: str) -> bool:
        """Whether ``volume`` is a layer this platform stored: a volume of that name without
        its labels is one Docker made empty for a mount (a layer removed meanwhile)."""
        try:
            found = await asyncio.to_thread(self._api.inspect_volume, volume)
        except docker.errors.NotFound:
            return False
        return LAYER_KEY in (found.get("Labels") or {})

    async def store(self, volume: str, key: str, layer: bytes, size: int, image: str) -> None:
        """Make ``volume`` with ``layer`` unpacked in it (a helper container, never started,
        with the volume mounted; Docker unpacks the tar)."""
        await asyncio.to_thread(self._store, volume, key, layer, size, image)
        self.count += 1
        self.bytes += size

    def _store(self, volume: str, key: str, layer: bytes, size: int, image: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):  # an empty one Docker made, if any
            self._api.remove_volume(volume)
        self._api.create_volume(volume, driver="local", labels={
            labels.MANAGED: "1", labels.PLATFORM: self._settings.platform_id,
            labels.RUNNER: self._settings.runner_id, labels.ROLE: LAYER_ROLE,
            LAYER_KEY: key, LAYER_BYTES: str(size)})
        helper: dict[str, Any] | None = None
        try:
            host_config = self._api.create_host_config(
                network_mode="none", cap_drop=["ALL"], read_only=True,
                mounts=[docker.types.Mount(LAYER_MOUNT, volume, type="volume")])
            helper = self._api.create_container(
                image, command=["true"], network_disabled=True, host_config=host_config,
                labels={labels.MANAGED: "1", labels.PLATFORM: self._settings.platform_id,
                        labels.RUNNER: self._settings.runner_id, labels.ROLE: "layer-writer"})
            if not self._api.put_archive(helper["Id"], LAYER_MOUNT, layer):
                raise LayerRefused("Docker did not unpack the layer")
        except BaseException:
            if helper is not None:
                self._api.remove_container(helper["Id"], force=True)
                helper = None
            self._api.remove_volume(volume, force=True)
            raise
        finally:
            if helper is not None:
                self._api.remove_container(helper["Id"], force=True)

    async def read(self, volume: str, image: str, max_bytes: int) -> bytes:
        """The layer in ``volume`` as a clean tar (``clean_layer``), for a sandbox that cannot
        mount it (a running notebook kernel): Docker reads the volume, which holds only what
        ``store`` wrote, through a helper container that is created and never started."""
        raw = await asyncio.to_thread(self._read, volume, image, max_bytes)
        return clean_layer(raw, max_bytes)[0]

    def _read(self, volume: str, image: str, max_bytes: int) -> bytes:
        host_config = self._api.create_host_config(
            network_mode="none", cap_drop=["ALL"], read_only=True,
            mounts=[docker.types.Mount(LAYER_MOUNT, volume, type="volume", read_only=True)])
        helper = self._api.create_container(
            image, command=["true"], network_disabled=True, host_config=host_config,
            labels={labels.MANAGED: "1", labels.PLATFORM: self._settings.platform_id,
                    labels.RUNNER: self._settings.runner_id, labels.ROLE: "layer-reader"})
        try:
            stream, _ = self._api.get_archive(helper["Id"], f"{LAYER_MOUNT}/.")
            chunks: list[bytes] = []
            size = 0
            for chunk in stream:  # room for the tar's headers and padding (1 KiB a file at most)
                size += len(chunk)
                if size > max_bytes + MAX_FILES * 1024 + 2**20:
                    raise LayerRefused(f"the layer exceeds {max_bytes // 2**20} MiB")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            self._api.remove_container(helper["Id"], force=True)

    async def usage(self) -> tuple[int, int]:
        """This platform's layers on this engine: how many, and their files' bytes (a Docker
        volume listing, slow on a busy engine: the heartbeat reads ``count`` and ``bytes``)."""
        found = await asyncio.to_thread(self._api.volumes, filters={"label": [
            f"{labels.ROLE}={LAYER_ROLE}", f"{labels.PLATFORM}={self._settings.platform_id}"]})
        volumes = found.get("Volumes") or []
        return len(volumes), sum(_bytes(v) for v in volumes)

    async def keep_counted(self, every_s: float = COUNT_EVERY_S) -> None:
        """Count the layers again every ``every_s`` (in the background, until cancelled)."""
        while True:
            try:
                self.count, self.bytes = await self.usage()
            except (docker.errors.DockerException, requests.RequestException) as exc:
                log.warning("counting the package layers failed: %s", exc)
            await asyncio.sleep(every_s)

    def close(self) -> None:
        self._api.close()


def _bytes(volume: dict[str, Any]) -> int:
    try:
        return int((volume.get("Labels") or {}).get(LAYER_BYTES, 0))
    except ValueError:
        return 0

"""``coderunner images export FILE`` / ``import FILE``: move the exact runtime images between
hosts (``docker save`` / ``docker load``, layers shared once), so every runner of a fleet runs
the same image of each language; placement then matches on the images' inputs hash
(``RunnerInfo.images``, ``dispatcher.fleet.Fleet.usual_image``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker

from coderunner.engines import EngineError, image_tags
from coderunner.images import image_inputs
from contracts.runtimes import Catalog


class TransferError(RuntimeError):
    """An image could not be exported or imported."""


def runtime_tags(client: docker.DockerClient, catalog: Catalog,
                 languages: list[str] | None) -> list[str]:
    """The final image tags of ``languages`` (every runtime built here when None)."""
    names = languages or [runtime.name for runtime in catalog.runtimes]
    try:
        wanted = image_tags(catalog, names)
    except EngineError as exc:
        raise TransferError(str(exc)) from exc
    tags = []
    for tag in wanted:
        if image_inputs(client, tag) is not None:
            tags.append(tag)
        elif languages:
            raise TransferError(f"{tag} is not built here: run coderunner images build")
    return sorted(tags)


def export(tags: list[str], path: Path) -> None:
    """Write ``tags`` (their layers once) to the tar file ``path``."""
    if not tags:
        raise TransferError("no runtime image is built here")
    _docker("save", "-o", str(path), *tags)


def import_(client: docker.DockerClient, path: Path) -> dict[str, str]:
    """Load the images of ``path``; returns each runtime tag loaded with its inputs hash."""
    output = _docker("load", "-i", str(path))
    loaded = [line.split(": ", 1)[1].strip() for line in output.splitlines()
              if line.startswith("Loaded image: ")]
    return {tag: image_inputs(client, tag) or "" for tag in loaded}


def _docker(*args: str) -> str:
    """The docker CLI (it honours DOCKER_HOST), which streams save and load to and from disk."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TransferError(f"docker {args[0]} failed: {done.stderr.strip()}")
    return done.stdout

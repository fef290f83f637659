"""The fetcher: resolves a package request and downloads its artifacts, nothing else.

A host process of the runner (docs/packages.md says why): ``pip download --only-binary=:all:``
resolves from wheel metadata and downloads wheels, never building or running anything;
``npm install --package-lock-only --ignore-scripts`` resolves the tree into a lock from registry
metadata, and ``npm pack`` downloads each registry tarball without running its scripts. Both use
their own registry configuration (``PackageSettings.fetch_env``); no host is named here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from msgspec import Struct

from contracts.packages import PackageSettings
from runners.packages_requests import PackageRequest

PIP_GUARD = "runners.packages_pip"
"""pip, refusing dependencies that name a URL (pip would build them, on this host)."""
MESSAGE_LINES = 15
"""How much of pip's or npm's complaint becomes the run's message."""


class FetchFailed(Exception):
    """The package set could not be resolved or downloaded (pip's or npm's words)."""


class Artifact(Struct, frozen=True):
    name: str
    data: bytes


class Fetched(Struct, frozen=True):
    """A resolved set: its artifacts and, for npm, the install plan (lock path → artifact)."""

    kind: str
    artifacts: list[Artifact]
    plan: str = ""

    def digest(self) -> str:
        hashes = sorted(f"{a.name}:{hashlib.sha256(a.data).hexdigest()}"
                        for a in self.artifacts)
        parts = [self.kind, self.plan, *hashes]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def fetch(request: PackageRequest, settings: PackageSettings,
                python_version: str) -> Fetched:
    with tempfile.TemporaryDirectory(prefix="coderunner-fetch-") as scratch:
        work = Path(scratch)
        try:
            async with asyncio.timeout(settings.fetch_timeout_s):
                if request.kind == "pip":
                    fetched = await _pip(request, settings, python_version, work)
                else:
                    fetched = await _npm(request, settings, work)
        except TimeoutError:
            raise FetchFailed(f"fetching the packages took more than "
                              f"{settings.fetch_timeout_s} s") from None
    return fetched


def _check_limits(files: list[Path], settings: PackageSettings) -> None:
    """Before any is read into memory: the set's count, and its size on disk."""
    if len(files) > settings.max_count:
        raise FetchFailed(f"the set has {len(files)} packages; at most "
                          f"{settings.max_count} are allowed")
    size = sum(f.stat().st_size for f in files)
    if size > settings.max_download_mb * 1024 * 1024:
        raise FetchFailed(f"the packages are {size // 1024} KiB; at most "
                          f"{settings.max_download_mb} MiB are allowed")


async def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        lines = [line for line in err.decode(errors="replace").splitlines()
                 if line.strip() and "complete log of this run" not in line]  # a host path
        raise FetchFailed("\n".join(lines[-MESSAGE_LINES:]) or f"{argv[0]} failed")
    return out.decode(errors="replace")


async def _pip(request: PackageRequest, settings: PackageSettings, python_version: str,
               work: Path) -> Fetched:
    (work / "requirements.txt").write_text(request.text)
    wheels = work / "wheels"
    argv = [sys.executable, "-I", "-m", PIP_GUARD, "download", "--only-binary=:all:", "--no-input",
            "--disable-pip-version-check", "--progress-bar", "off", "--dest", str(wheels),
            "-r", "requirements.txt"]
    if python_version:
        argv += ["--python-version", python_version]
    await _run(argv, work, settings.fetch_env)
    files = sorted(wheels.glob("*.whl")) if wheels.exists() else []
    _check_limits(files, settings)
    return Fetched("pip", [Artifact(f.name, f.read_bytes()) for f in files])


NPM_QUIET = ["--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]


async def _npm(request: PackageRequest, settings: PackageSettings, work: Path) -> Fetched:
    (work / "package.json").write_text(request.text)
    await _run(["npm", "install", "--package-lock-only", *NPM_QUIET], work, settings.fetch_env)
    lock = json.loads((work / "package-lock.json").read_text())
    entries = {path: entry for path, entry in (lock.get("packages") or {}).items()
               if path.startswith("node_modules/") and isinstance(entry, dict)}
    if len(entries) > settings.max_count:
        raise FetchFailed(f"the set has {len(entries)} packages; at most "
                          f"{settings.max_count} are allowed")
    for path, entry in entries.items():
        _check_resolved(path, entry)
    specs = sorted({f"{package_name(path, entry)}@{entry['version']}"
                    for path, entry in entries.items()})
    packs = work / "packs"
    packs.mkdir()
    packed = json.loads(await _run(["npm", "pack", *specs, "--json", "--pack-destination",
                                    str(packs), *NPM_QUIET], work, settings.fetch_env)
                        ) if specs else []
    by_spec = {f"{p['name']}@{p['version']}": p for p in packed}
    files: dict[str, Path] = {}
    for path, entry in entries.items():
        pack = by_spec[f"{package_name(path, entry)}@{entry['version']}"]
        files[path] = packs / Path(pack["filename"]).name
    _check_limits(list(files.values()), settings)
    artifacts, plan = [], []
    for index, (path, entry) in enumerate(sorted(entries.items())):
        data = files[path].read_bytes()
        _check_integrity(path, entry, data)
        name = f"{index}.tgz"
        artifacts.append(Artifact(name, data))
        plan.append({"path": path, "file": name, "scripts": bool(entry.get("hasInstallScript"))})
    return Fetched("npm", artifacts, json.dumps(plan))


def package_name(path: str, entry: dict[str, Any]) -> str:
    """A lock entry's package name: its own ``name`` (an alias) or its path's last part."""
    name = entry.get("name")
    return name if isinstance(name, str) else path.rsplit("node_modules/", 1)[-1]


def _check_integrity(path: str, entry: dict[str, Any], data: bytes) -> None:
    integrity = entry.get("integrity")
    if not isinstance(integrity, str) or "-" not in integrity:
        return  # a registry without integrity: the tarball is what the registry gave
    algorithm, expected = integrity.split("-", 1)
    if algorithm not in ("sha512", "sha384", "sha256", "sha1"):
        raise FetchFailed(f"{path}: unknown integrity {algorithm}")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise FetchFailed(f"{path}: the tarball does not match the lock's integrity")


def _check_resolved(path: str, entry: dict[str, Any]) -> None:
    """Only registry tarballs: a dependency on git, a file, a link or a bare URL is refused
    (npm pack would fetch or build it otherwise than from the registry). npm leaves out a
    registry package's ``resolved`` under ``omit-lockfile-registry-resolved``, never another's."""
    resolved = entry.get("resolved")
    if entry.get("link") or "version" not in entry or (
            resolved is not None and not str(resolved).startswith(("https://", "http://"))):
        raise FetchFailed(f"refused: {path} resolves to {resolved!r}, not a registry tarball")

"""The fetcher's own checks: the set's count and size limits, and npm's integrity."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from contracts.packages import PackageSettings
from runners import packages_fetch
from runners.packages_fetch import (
    Artifact,
    Fetched,
    FetchFailed,
    _check_integrity,
    _check_resolved,
    fetch,
)
from runners.packages_requests import PackageRequest

LIMITS = PackageSettings(max_count=2, max_download_mb=1)


def big(path: Path, size: int) -> None:
    """A file of ``size`` bytes on disk that costs no memory here (sparse)."""
    with path.open("wb") as file:
        file.truncate(size)


@pytest.fixture
def unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """An artifact read into memory fails the test: the limits are checked on disk first."""
    def read_bytes(self: Path) -> bytes:
        raise AssertionError(f"{self.name} was read before the limits were checked")
    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def fake_pip(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> None:
    async def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
        dest = Path(argv[argv.index("--dest") + 1])
        dest.mkdir()
        for n, size in enumerate(sizes):
            big(dest / f"p{n}-1.0-py3-none-any.whl", size)
        return ""
    monkeypatch.setattr(packages_fetch, "_run", run)


@pytest.mark.usefixtures("unread")
@pytest.mark.parametrize(("sizes", "said"), [
    ([1, 1, 1], "3 packages; at most 2"), ([2**20 + 1], "at most 1 MiB")])
async def test_a_pip_set_over_its_count_or_size_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, sizes: list[int], said: str,
) -> None:
    fake_pip(monkeypatch, sizes)
    with pytest.raises(FetchFailed, match=said):
        await fetch(PackageRequest("pip", ["p0"], "p0\n"), LIMITS, "")


@pytest.mark.usefixtures("unread")
async def test_an_npm_set_over_its_size_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
        if argv[1] == "install":
            (cwd / "package-lock.json").write_text(json.dumps({"packages": {
                f"node_modules/{name}": {"version": "1.0.0",
                                         "resolved": f"https://r/{name}.tgz"}
                for name in ("a", "b")}}))
            return ""
        packs = Path(argv[argv.index("--pack-destination") + 1])
        for name in ("a", "b"):
            big(packs / f"{name}-1.0.0.tgz", 2**19 + 1)
        return json.dumps([{"name": name, "version": "1.0.0", "filename": f"{name}-1.0.0.tgz"}
                           for name in ("a", "b")])
    monkeypatch.setattr(packages_fetch, "_run", run)
    with pytest.raises(FetchFailed, match="at most 1 MiB"):
        await fetch(PackageRequest("npm", ["a", "b"], "{}"), LIMITS, "")


def test_a_tarball_must_match_the_locks_integrity() -> None:
    data = b"tarball"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    _check_integrity("node_modules/x", {"integrity": good}, data)
    with pytest.raises(FetchFailed, match="does not match"):
        _check_integrity("node_modules/x", {"integrity": good}, data + b"!")
    with pytest.raises(FetchFailed, match="unknown integrity"):
        _check_integrity("node_modules/x", {"integrity": "md5-AAAA"}, data)


def test_the_digest_is_the_resolved_set_not_its_order() -> None:
    one = Fetched("pip", [Artifact("a.whl", b"1"), Artifact("b.whl", b"2")])
    two = Fetched("pip", [Artifact("b.whl", b"2"), Artifact("a.whl", b"1")])
    assert one.digest() == two.digest()
    assert one.digest() != Fetched("pip", [Artifact("a.whl", b"1"), Artifact("b.whl", b"3")]
                                   ).digest()


@pytest.mark.parametrize("entry", [
    {"version": "1.0.0", "resolved": "git+ssh://git@example.invalid/x.git#abc"},
    {"version": "1.0.0", "resolved": "file:../x"},
    {"resolved": "../x", "link": True},
    {"resolved": "https://registry.example/x/-/x-1.0.0.tgz"},
])
def test_an_npm_dependency_not_from_the_registry_is_refused(entry: dict[str, object]) -> None:
    with pytest.raises(FetchFailed, match="not a registry tarball"):
        _check_resolved("node_modules/x", entry)
    _check_resolved("node_modules/x", {"version": "1.0.0",
                                       "resolved": "https://registry.example/x/-/x-1.0.0.tgz"})
    _check_resolved("node_modules/x", {"version": "1.0.0"})  # omit-lockfile-registry-resolved

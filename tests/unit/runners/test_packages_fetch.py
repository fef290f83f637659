"""The fetcher's own checks: the set's count and size limits, and npm's integrity."""

from __future__ import annotations

import base64
import hashlib

import pytest

from contracts.packages import PackageSettings
from runners.packages_fetch import (
    Artifact,
    Fetched,
    FetchFailed,
    _check_integrity,
    _check_limits,
    _check_resolved,
)


def test_a_set_over_its_count_or_size_is_refused() -> None:
    settings = PackageSettings(max_count=2, max_download_mb=1)
    _check_limits(Fetched("pip", [Artifact("a", b"x"), Artifact("b", b"x")]), settings)
    with pytest.raises(FetchFailed, match="3 packages; at most 2"):
        _check_limits(Fetched("pip", [Artifact(n, b"x") for n in "abc"]), settings)
    with pytest.raises(FetchFailed, match="at most 1 MiB"):
        _check_limits(Fetched("pip", [Artifact("a", b"x" * (2**20 + 1))]), settings)


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

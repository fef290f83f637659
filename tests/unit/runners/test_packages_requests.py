"""Which package files pass: plain names and versions only (docs/packages.md)."""

from __future__ import annotations

import pytest

from contracts.messages import JobFile
from contracts.packages import PackageSettings
from runners.packages_requests import BadRequest, npm_request, pip_request, request_of


def test_plain_requirements_pass_normalized_and_sorted() -> None:
    request = pip_request("# tools\nRequests[socks] >= 2.0, <3  # http\n\nattrs==23.1\n")
    assert request.names == ["requests", "attrs"]
    assert request.text == "Requests[socks]>=2.0,<3\nattrs==23.1\n"
    assert request.key == pip_request("attrs==23.1\nRequests[socks]>=2.0,<3\n").key


@pytest.mark.parametrize("line", [
    "--index-url http://example.invalid/simple", "-r other.txt", "-e .", "./local",
    "/etc/passwd", "pkg @ https://example.invalid/pkg.whl", "git+https://example.invalid/x",
    "pkg; python_version < '3.8'", "--find-links /tmp", "pkg==1.0 --hash=sha256:00",
])
def test_options_urls_paths_and_markers_are_refused(line: str) -> None:
    with pytest.raises(BadRequest, match="line 1"):
        pip_request(f"{line}\nattrs\n")


def test_npm_dependencies_pass_as_a_clean_manifest() -> None:
    request = npm_request('{"name": "x", "scripts": {"postinstall": "evil"}, '
                          '"dependencies": {"left-pad": "^1.3.0", "@scope/pkg": "1.x"}}')
    assert request.names == ["@scope/pkg", "left-pad"]
    assert "scripts" not in request.text and "evil" not in request.text


@pytest.mark.parametrize("spec", ["git+https://example.invalid/x.git", "file:../x",
                                  "npm:other@1", "https://example.invalid/x.tgz",
                                  "github:user/repo"])
def test_npm_specs_other_than_ranges_are_refused(spec: str) -> None:
    with pytest.raises(BadRequest):
        npm_request(f'{{"dependencies": {{"x": "{spec}"}}}}')


def test_only_the_languages_manifest_counts() -> None:
    files = [JobFile("requirements.txt", "attrs\n"), JobFile("package.json", "{}")]
    assert request_of("python", files).kind == "pip"  # type: ignore[union-attr]
    assert request_of("javascript", files) is None  # no dependencies
    assert request_of("ruby", files) is None


def test_the_names_are_not_counted_when_read_the_resolved_set_is() -> None:
    """docs/packages.md: PACKAGES_MAX_COUNT (50 by default) limits the resolved set, at the
    fetch (tests/unit/runners/test_packages_fetch.py), not the names a request gives."""
    names = [f"pkg{n}" for n in range(PackageSettings().max_count + 1)]
    assert pip_request("".join(f"{n}==1.0\n" for n in names)).names == names

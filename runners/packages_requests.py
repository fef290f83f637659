"""What packages a run asks for: a ``requirements.txt`` among a Python run's files, a
``package.json`` among a JavaScript run's. Pure; only plain names and versions pass, so that
nothing a user writes can point pip or npm at another index, a URL, a path or a VCS."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Literal

from msgspec import Struct

from contracts.messages import JobFile

Kind = Literal["pip", "npm"]
MANIFESTS: dict[str, tuple[str, Kind]] = {
    "python": ("requirements.txt", "pip"), "javascript": ("package.json", "npm"),
    "typescript": ("package.json", "npm")}
"""Language → the file that names its packages, and how they are fetched."""

_PIP_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PIP_VERSION = r"(?:===?|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!_-]+"
PIP_LINE = re.compile(
    rf"^({_PIP_NAME})\s*(\[\s*{_PIP_NAME}(?:\s*,\s*{_PIP_NAME})*\s*\])?"
    rf"\s*({_PIP_VERSION}(?:\s*,\s*{_PIP_VERSION})*)?$")
NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*$")
NPM_RANGE = re.compile(r"^[0-9A-Za-z.*^~<>=|+ -]*$")


class BadRequest(ValueError):
    """The package file names something other than plain packages and versions."""


class PackageRequest(Struct, frozen=True):
    """One run's packages: ``text`` is the clean manifest the fetcher is given."""

    kind: Kind
    names: list[str]
    text: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.kind}\0{self.text}".encode()).hexdigest()


def request_of(language: str, files: Sequence[JobFile]) -> PackageRequest | None:
    """The run's package request, None when it names none; BadRequest for anything else."""
    manifest = MANIFESTS.get(language)
    if manifest is None:
        return None
    name, kind = manifest
    found = next((f for f in files if f.name == name), None)
    if found is None:
        return None
    request = pip_request(found.content) if kind == "pip" else npm_request(found.content)
    return request if request.names else None


def pip_request(text: str) -> PackageRequest:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIP_LINE.match(line)
        if match is None:
            raise BadRequest(f"requirements.txt line {number}: {raw.strip()[:80]!r} is not a "
                             "plain requirement (name, extras, versions: no options, URLs, "
                             "paths or markers)")
        lines.append(re.sub(r"\s+", "", line))
    names = [PIP_LINE.match(line).group(1).lower() for line in lines]  # type: ignore[union-attr]
    return PackageRequest("pip", names, "".join(f"{line}\n" for line in sorted(lines)))


def npm_request(text: str) -> PackageRequest:
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"package.json is not JSON: {exc}") from None
    dependencies = manifest.get("dependencies", {}) if isinstance(manifest, dict) else None
    if not isinstance(dependencies, dict):
        raise BadRequest("package.json: dependencies must be an object")
    for name, spec in dependencies.items():
        if not NPM_NAME.match(name) or len(name) > 214:
            raise BadRequest(f"package.json: {name[:80]!r} is not an npm package name")
        if not isinstance(spec, str) or not NPM_RANGE.match(spec) or len(spec) > 100:
            raise BadRequest(f"package.json: the version of {name} must be a semver range "
                             "(no URLs, git, file: or npm: specs)")
    clean = {"name": "coderunner-run", "version": "0.0.0", "private": True,
             "dependencies": dict(sorted(dependencies.items()))}
    return PackageRequest("npm", sorted(dependencies), json.dumps(clean, indent=1) + "\n")

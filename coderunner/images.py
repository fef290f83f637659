"""Runtime images, built from ``infra/images/`` when missing or when their inputs changed.

Layers, each built only when needed:

1. ``coderunner/base:trixie``: ``debian:trixie-slim`` when a registry answers, else a
   debootstrap minbase from the machine's own apt mirror (``infra/images/base/build-base.sh``).
2. ``coderunner/runtime-base``: python3 for the agent and the sandbox user.
3. ``coderunner/<image>-toolchain``: the language's own Dockerfile, FROM the runtime base or
   FROM another toolchain (``FROM coderunner/gcc-toolchain``: the image shares its layers, and
   is built after it and again when it changes).
4. ``coderunner/<image>``: a generated final layer adding the read-only agent and, as labels,
   the versions read from the toolchain (``coderunner.version.<language>``).

Every image is labelled with a hash of its inputs (its folder, its parent's hash, and for the
final layer the agent and the version commands), so an edited Dockerfile rebuilds exactly what
depends on it, and an edited agent rebuilds only the small final layers.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from contracts import labels
from contracts.runtimes import Catalog, Runtime
from contracts.settings import REPO_ROOT

IMAGES_DIR = REPO_ROOT / "infra" / "images"
AGENT_DIR = REPO_ROOT / "runners" / "agent"
"""The agent and its helpers, stdlib-only modules copied read-only to /opt/coderunner."""
BASE_TAG = "coderunner/base:trixie"
RUNTIME_BASE = "coderunner/runtime-base"
SANDBOX_USER = "10001:10001"
UNKNOWN_VERSION = "unknown"
"""The version label of a runtime without a version command."""
VERSION_ATTEMPTS = 5
"""How many times an empty answer of a version command is asked again."""
TOOLCHAIN_FROM = re.compile(r"^FROM\s+coderunner/([a-z0-9][a-z0-9_.-]*)-toolchain\b", re.I)
Progress = Callable[[str, str], None]
"""Called with (image name, a line of what is happening)."""


class ImageBuildError(RuntimeError):
    """A runtime image could not be built."""


@dataclass(frozen=True)
class ImagePlan:
    """One language image (``coderunner/<name>``) and the runtimes it serves."""

    name: str
    runtimes: tuple[Runtime, ...] = field(default_factory=tuple)

    @property
    def directory(self) -> Path:
        return IMAGES_DIR / self.name

    @property
    def toolchain_tag(self) -> str:
        return f"coderunner/{self.name}-toolchain"

    @property
    def tag(self) -> str:
        return f"coderunner/{self.name}"


def plans_for(catalog: Catalog, languages: list[str] | None = None) -> list[ImagePlan]:
    by_image: dict[str, list[Runtime]] = {}
    for language in languages or catalog.names():
        runtime = catalog.get(language)
        if runtime is None:
            raise ImageBuildError(f"unknown language {language!r}")
        by_image.setdefault(runtime.image, [])
    for runtime in catalog.runtimes:
        if runtime.image in by_image:
            by_image[runtime.image].append(runtime)
    return [ImagePlan(name, tuple(runtimes)) for name, runtimes in by_image.items()]


def parent_toolchain(directory: Path) -> str | None:
    """The image folder whose toolchain a Dockerfile builds on (``FROM coderunner/<name>-
    toolchain``), or None when it starts from the runtime base."""
    for line in (directory / "Dockerfile").read_text().splitlines():
        if line.strip().upper().startswith("FROM"):
            found = TOOLCHAIN_FROM.match(line.strip())
            return found.group(1) if found else None
    return None


def folder_hash(directory: Path, *extra: str) -> str:
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode() + b"\0")
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def final_dockerfile(plan: ImagePlan, versions: dict[str, str]) -> str:
    version_labels = " ".join(
        f"{labels.VERSION}{name}={json.dumps(v)}" for name, v in versions.items()
    )
    lines = [f"FROM {plan.toolchain_tag}"]
    if version_labels:
        lines.append(f"LABEL {version_labels}")
    lines += [
        "USER root",
        "COPY *.py /opt/coderunner/",
        "RUN chmod 0444 /opt/coderunner/*.py && chmod 0555 /opt/coderunner",
        f"USER {SANDBOX_USER}",
        "WORKDIR /workspace",
        'CMD ["python3", "-I", "/opt/coderunner/agent.py"]',
    ]
    return "\n".join(lines) + "\n"


def tar_of(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def folder_files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*")) if p.is_file()
    }


def image_inputs(client: docker.DockerClient, tag: str) -> str | None:
    """The inputs hash an image was built from (its label), or None when it is not here."""
    try:
        image_labels = client.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        return None
    value = image_labels.get(labels.INPUTS)
    return str(value) if value is not None else None


class ImageBuilder:
    def __init__(self, client: docker.DockerClient, progress: Progress) -> None:
        self.client = client
        self.progress = progress

    def ensure(self, plans: list[ImagePlan], force: bool = False) -> list[str]:
        """Build what is missing or stale; returns the tags that were built."""
        built: list[str] = []
        self.ensure_base()
        base_hash = folder_hash(IMAGES_DIR / "runtime-base", self.image_id(BASE_TAG))
        if self._build_folder(RUNTIME_BASE, IMAGES_DIR / "runtime-base", base_hash, force):
            built.append(RUNTIME_BASE)
        for plan in plans:
            self.ensure_plan(plan, base_hash, force, built)
        if built:  # the images these replaced are left untagged: remove ours
            self.client.images.prune(filters={"dangling": True, "label": labels.INPUTS})
        return built

    def ensure_plan(self, plan: ImagePlan, base_hash: str, force: bool, built: list[str]) -> None:
        """Build the plan's toolchain and final image when missing or stale (each image once per
        call of ``ensure``: ``built`` holds what this call built so far)."""
        toolchain_hash = self.ensure_toolchain(plan.name, base_hash, force, built)
        agent = {path.name: path.read_bytes() for path in sorted(AGENT_DIR.glob("*.py"))}
        commands = json.dumps([r.version_command for r in plan.runtimes]).encode()
        digest = hashlib.sha256(toolchain_hash.encode() + b"".join(agent.values()) + commands)
        final_hash = digest.hexdigest()[:16]
        if force or self.inputs_of(plan.tag) != final_hash or self.lacks_a_version(plan):
            versions = {r.name: self.read_version(plan.toolchain_tag, r) for r in plan.runtimes}
            files = {"Dockerfile": final_dockerfile(plan, versions).encode(), **agent}
            self.build(plan.tag, tar_of(files), final_hash)
            built.append(plan.tag)
        else:
            self.progress(plan.name, "up to date")

    def ensure_toolchain(self, name: str, base_hash: str, force: bool, built: list[str],
                         seen: tuple[str, ...] = ()) -> str:
        """Build ``coderunner/<name>-toolchain`` (after the toolchain it is FROM, if any) when
        missing or stale; returns its inputs hash and appends what was built to ``built``."""
        directory = IMAGES_DIR / name
        if not (directory / "Dockerfile").is_file() or name in seen:
            raise ImageBuildError(f"{directory}/Dockerfile is missing or builds on itself")
        parent = parent_toolchain(directory)
        parent_hash = base_hash if parent is None else self.ensure_toolchain(
            parent, base_hash, force, built, (*seen, name))
        tag = f"coderunner/{name}-toolchain"
        if tag in built:
            return str(self.inputs_of(tag))
        self.fetch(directory)
        inputs = folder_hash(directory, parent_hash)
        if self._build_folder(tag, directory, inputs, force):
            built.append(tag)
        return inputs

    def ensure_base(self) -> None:
        if self.inputs_of(BASE_TAG) is not None or self._exists(BASE_TAG):
            return
        script = IMAGES_DIR / "base" / "build-base.sh"
        process = subprocess.Popen([str(script), BASE_TAG], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            self.progress("base", line.rstrip())
        if process.wait() != 0:
            raise ImageBuildError("building the base image failed (see the lines above)")

    def read_version(self, tag: str, runtime: Runtime) -> str:
        """The runtime's version, from its ``version_command`` in the toolchain image. Docker
        20.10 may answer a short-lived container's logs before its last line is copied (perl
        prints its version without a newline: empty now and then on a busy machine), so an
        empty answer is asked again, and never becomes the image's label."""
        if not runtime.version_command:
            return UNKNOWN_VERSION
        # Its answer as one whole line: Docker copies a last line without a newline (perl's,
        # guile's, R's) only when the stream closes, which a log read may come before.
        command = ["sh", "-c", 'out=$("$@") || exit $?; printf "%s\\n" "$out"', "version",
                   *runtime.version_command]
        for _ in range(VERSION_ATTEMPTS):
            try:
                out = self.client.containers.run(
                    tag, command, remove=True, network_disabled=True,
                    user=SANDBOX_USER, stdout=True, stderr=False,
                )
            except docker.errors.ContainerError as exc:
                raise ImageBuildError(f"{runtime.name}: version command failed: {exc}") from exc
            text = out.decode(errors="replace").strip() if isinstance(out, bytes) else str(out)
            if text:
                return text.splitlines()[0].strip()
        raise ImageBuildError(f"{runtime.name}: version command printed nothing "
                              f"{VERSION_ATTEMPTS} times: {runtime.version_command}")

    def lacks_a_version(self, plan: ImagePlan) -> bool:
        """Whether the image labels a runtime that has a version command ``unknown`` (an image
        built before an empty answer was refused): it is then built again."""
        try:
            image_labels = self.client.images.get(plan.tag).labels or {}
        except docker.errors.ImageNotFound:
            return False
        return any(image_labels.get(f"{labels.VERSION}{r.name}", UNKNOWN_VERSION)
                   == UNKNOWN_VERSION for r in plan.runtimes if r.version_command)

    def fetch(self, directory: Path) -> None:
        """Run an image folder's optional fetch.sh on the host (files from a package registry
        that a build container cannot reach), before the folder is hashed."""
        script = directory / "fetch.sh"
        if not script.is_file():
            return
        self.progress(directory.name, "fetching with fetch.sh")
        done = subprocess.run([str(script)], capture_output=True, text=True)
        if done.returncode != 0:
            raise ImageBuildError(f"{script} failed: {done.stderr.strip()[-500:]}")

    def _build_folder(self, tag: str, directory: Path, inputs: str, force: bool) -> bool:
        if not force and self.inputs_of(tag) == inputs:
            self.progress(tag.split("/")[-1], "up to date")
            return False
        self.build(tag, tar_of(folder_files(directory)), inputs)
        return True

    def build(self, tag: str, context: io.BytesIO, inputs: str) -> None:
        name = tag.split("/")[-1]
        stream = self.client.api.build(
            fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
            labels={labels.INPUTS: inputs}, decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                raise ImageBuildError(f"{tag}: {str(chunk['error']).strip()}")
            line = str(chunk.get("stream", "")).strip()
            if line:
                self.progress(name, line)
        self.progress(name, "built")

    def _exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def image_id(self, tag: str) -> str:
        return str(self.client.images.get(tag).id)

    def inputs_of(self, tag: str) -> str | None:
        return image_inputs(self.client, tag)

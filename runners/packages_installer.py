"""The package installer: runs INSIDE an install sandbox (no network, the sandbox user), never in
the runner, which only sends this file's source as one of the install's files.

``python3 -I installer.py pip|npm``: the artifacts are ``pkg/<n>.b64`` (base64, as the agent
writes text files), listed in ``pkg/plan.json``. Wheels are unpacked (no code runs); npm
tarballs are unpacked at their lock paths, then their preinstall/install/postinstall scripts
run here. The finished layer (/tmp/layer) goes to stdout as a base64 tar of its regular files
and directories; everything meant for the user goes to stderr. Standard library only.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from typing import IO

LAYER = "/tmp/layer"
LOCK_PATH = re.compile(r"^node_modules/(?:(?:@[^/]+/)?[^/@][^/]*/node_modules/)*(?:@[^/]+/)?[^/]+$")
SCRIPTS = ("preinstall", "install", "postinstall")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def safe_parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or "\\" in name or "\0" in name or ".." in parts:
        raise SystemExit(f"refused: the archive member {name!r} leaves its directory")
    return parts


def read_artifact(name: str) -> bytes:
    with open(os.path.join("pkg", name), "rb") as f:
        return base64.b64decode(f.read())


def write_member(dest: str, source: IO[bytes] | None, executable: bool) -> None:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as out:
        if source is not None:
            shutil.copyfileobj(source, out)
    os.chmod(dest, 0o755 if executable else 0o644)


def install_wheel(filename: str, data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for info in wheel.infolist():
            if info.is_dir():
                continue
            parts = safe_parts(info.filename)
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: not part of an importable layer
                parts = parts[2:]
            with wheel.open(info) as source:
                write_member(os.path.join(LAYER, *parts), source,
                             bool((info.external_attr >> 16) & 0o111))
    say(f"Installed {filename}")


def unpack_tarball(path: str, data: bytes) -> None:
    if not LOCK_PATH.match(path) or ".." in path.split("/"):
        raise SystemExit(f"refused: lock path {path!r}")
    root = os.path.join(LAYER, path)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive:
            parts = safe_parts(member.name)[1:]  # the tarball's top directory ("package/")
            if not parts or not member.isfile():
                continue
            write_member(os.path.join(root, *parts), archive.extractfile(member),
                         bool(member.mode & 0o111))


def run_scripts(path: str) -> None:
    root = os.path.join(LAYER, path)
    try:
        with open(os.path.join(root, "package.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return
    scripts = manifest.get("scripts") if isinstance(manifest, dict) else None
    if not isinstance(scripts, dict):
        return
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp",
           "npm_package_name": str(manifest.get("name", "")),
           "npm_package_version": str(manifest.get("version", ""))}
    for stage in SCRIPTS:
        command = scripts.get(stage)
        if not isinstance(command, str):
            continue
        env["npm_lifecycle_event"] = stage
        say(f"> {manifest.get('name')}@{manifest.get('version')} {stage}: {command}")
        done = subprocess.run(["sh", "-c", command], cwd=root, env=env, stdin=subprocess.DEVNULL,
                              stdout=sys.stderr, stderr=sys.stderr, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{path}: the {stage} script failed (exit {done.returncode})")


def install_npm(plan: list[dict[str, str]]) -> None:
    for item in plan:
        unpack_tarball(item["path"], read_artifact(item["file"]))
        say(f"Unpacked {item['path']}")
    for item in sorted(plan, key=lambda i: -i["path"].count("node_modules/")):
        run_scripts(item["path"])


def stop_leftovers() -> None:
    """Kill every process of the sandbox user but this one (a script's background child), so
    that nothing writes into the layer while it is sent."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


def send_layer(root: str) -> None:
    """The tree under ``root`` (the layer; for npm its node_modules, mounted as such)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for top, dirs, files in os.walk(root):
            for name in sorted(dirs) + sorted(files):
                full = os.path.join(top, name)
                if os.path.islink(full):
                    continue
                archive.add(full, arcname=os.path.relpath(full, root), recursive=False)
    sys.stdout.write(base64.encodebytes(buffer.getvalue()).decode())
    sys.stdout.flush()


def main() -> None:
    kind = sys.argv[1]
    os.makedirs(LAYER, exist_ok=True)
    with open(os.path.join("pkg", "plan.json")) as f:
        plan = json.load(f)
    if kind == "pip":
        for item in plan:
            install_wheel(item["name"], read_artifact(item["file"]))
    else:
        install_npm(plan)
    stop_leftovers()
    send_layer(LAYER if kind == "pip" else os.path.join(LAYER, "node_modules"))


if __name__ == "__main__":
    main()

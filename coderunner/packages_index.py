"""A tiny package index on loopback, for the package tests and ``coderunner bench``: a PEP 503
simple index serving wheels built here, and an npm registry stub serving tarballs built here.
Nothing leaves the machine: pip and npm (the runner's fetcher) are pointed at it through their
own settings (``PIP_INDEX_URL``, ``NPM_CONFIG_REGISTRY``)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def wheel(name: str, version: str, files: dict[str, str], requires: tuple[str, ...] = ()
          ) -> tuple[str, bytes]:
    """A pure-Python wheel: ``files`` (path → source) plus its dist-info (``Requires-Dist``
    lines of ``requires``)."""
    dist = f"{name}-{version}.dist-info"
    needs = "".join(f"Requires-Dist: {r}\n" for r in requires)
    entries = {**files,
               f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   + needs,
               f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                "Tag: py3-none-any\n",
               f"{dist}/RECORD": ""}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in entries.items():
            archive.writestr(zipfile.ZipInfo(path, FIXED_TIME), content)
    return f"{name}-{version}-py3-none-any.whl", buffer.getvalue()


def tarball(files: dict[str, str], top: str = "package") -> bytes:
    """An npm tarball (or an sdist): ``files`` under ``top``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Index:
    """What the server serves; filled by the test once it knows the port."""

    def __init__(self) -> None:
        self.wheels: dict[str, dict[str, bytes]] = {}
        """Project → file name → wheel."""
        self.npm: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        """npm name → version → (package.json, tarball)."""
        self.files: dict[str, bytes] = {}
        """Other files, at ``/files/<name>``."""
        self.url = ""
        self.asked: list[str] = []
        """Every path asked for, in order (a cache hit asks for none)."""

    def add_wheel(self, name: str, version: str, files: dict[str, str],
                  requires: tuple[str, ...] = ()) -> None:
        filename, data = wheel(name, version, files, requires)
        self.wheels.setdefault(name, {})[filename] = data

    def add_npm(self, name: str, version: str, files: dict[str, str],
                scripts: dict[str, str] | None = None) -> None:
        manifest: dict[str, Any] = {"name": name, "version": version, "main": "index.js"}
        if scripts:
            manifest["scripts"] = scripts
        data = tarball({"package.json": json.dumps(manifest), **files})
        self.npm.setdefault(name, {})[version] = (manifest, data)

    def packument(self, name: str) -> dict[str, Any]:
        versions = {}
        for version, (manifest, data) in self.npm[name].items():
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            versions[version] = {
                **manifest, "hasInstallScript": "scripts" in manifest,
                "dist": {"tarball": f"{self.url}/{name}/-/{name}-{version}.tgz",
                         "integrity": integrity, "shasum": hashlib.sha1(data).hexdigest()}}
        latest = sorted(versions, key=lambda v: [int(p) for p in v.split(".")])[-1]
        return {"name": name, "dist-tags": {"latest": latest}, "versions": versions}

    def answer(self, path: str) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] == ["simple"] and len(parts) == 2 and parts[1] in self.wheels:
            links = "".join(
                f'<a href="/files/{f}#sha256={hashlib.sha256(d).hexdigest()}">{f}</a>\n'
                for f, d in self.wheels[parts[1]].items())
            return 200, "text/html", f"<html><body>{links}</body></html>".encode()
        if parts[:1] == ["files"] and len(parts) == 2:
            if parts[1] in self.files:
                return 200, "application/octet-stream", self.files[parts[1]]
            for files in self.wheels.values():
                if parts[1] in files:
                    return 200, "application/octet-stream", files[parts[1]]
        if len(parts) == 1 and parts[0] in self.npm:
            return 200, "application/json", json.dumps(self.packument(parts[0])).encode()
        if len(parts) == 3 and parts[0] in self.npm and parts[1] == "-":
            for version, (_, data) in self.npm[parts[0]].items():
                if parts[2] == f"{parts[0]}-{version}.tgz":
                    return 200, "application/octet-stream", data
        return 404, "application/json", b'{"error":"Not found"}'


@contextmanager
def serving(index: Index) -> Iterator[Index]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index.asked.append(self.path)
            status, kind, body = index.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    index.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()

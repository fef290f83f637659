"""``coderunner bench``'s package lines (docs/packages.md): the first run of a small
requirements set (resolve, download, install in a sandbox, keep the layer) and the same run
once its layer is cached, beside the same program without packages; and ``%pip install`` in a
notebook's running kernel, first and cached. The index is a tiny one on loopback
(coderunner/packages_index.py): nothing leaves the machine."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import docker
import httpx

from coderunner.bench import Figures, Report, platform
from coderunner.packages_index import Index, serving
from contracts import labels
from contracts.packages import LAYER_ROLE


def packages_figures(quick: bool, report: Report) -> list[Figures]:
    firsts = 2 if quick else 5
    count = 10 if quick else 30
    platform_id = f"bench-{uuid.uuid4().hex[:8]}"
    with serving(Index()) as index:
        names = [f"benchpkg{n}" for n in range(firsts)]
        in_notebooks = [f"benchnb{n}" for n in range(firsts)]
        token = uuid.uuid4().hex[:8]
        for name in names + in_notebooks:  # a new set each: every first run builds its layer
            index.add_wheel(name, "1.0", {f"{name}/__init__.py": f"NAME = {token!r}\n"})
        extra = {"PIP_INDEX_URL": f"{index.url}/simple/", "PIP_NO_CACHE_DIR": "1",
                 "PLATFORM_ID": platform_id}
        try:
            with platform(pool_size=1, extra=extra) as bench:
                report("packages: first and cached run of a small requirements set")
                return asyncio.run(_measure(bench.http_url, names, count)) + \
                    asyncio.run(_measure_notebook(bench.http_url, in_notebooks, count))
        finally:
            remove_layers(platform_id)


async def _measure(url: str, names: list[str], count: int) -> list[Figures]:
    async with httpx.AsyncClient(base_url=url, timeout=180, trust_env=False) as http:
        first = [await _run(http, name) for name in names]
        cached = [await _run(http, names[0]) for _ in range(count)]
        plain = [await _run(http, None) for _ in range(count)]
    return [Figures("packages: first run (fetch + install)", first,
                    note="1 wheel, index on loopback"),
            Figures("packages: cached layer", cached, note="same requirements again"),
            Figures("packages: same program, no requirements", plain)]


async def _run(http: httpx.AsyncClient, package: str | None) -> float:
    code = f"import {package}\nprint({package}.NAME)\n" if package else "print('x')\n"
    files = [{"name": "main.py", "content": code}]
    if package:
        files.append({"name": "requirements.txt", "content": f"{package}==1.0\n"})
    body: dict[str, Any] = {"language": "python", "mainFile": "main.py", "files": files}
    started = time.perf_counter()
    response = await http.post("/api/v1/executions?wait=true&timeout=170", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.json().get("verdict") != "ok":
        raise RuntimeError(f"unexpected answer: {response.text[:300]}")
    return elapsed


async def _measure_notebook(url: str, names: list[str], count: int) -> list[Figures]:
    async with httpx.AsyncClient(base_url=url, timeout=180, trust_env=False) as http:
        opened = await http.post("/api/v1/notebooks", json={})
        notebook = opened.json()["notebookId"]
        await _cell(http, notebook, "x = 1")  # the kernel is started before any is timed
        first = [await _cell(http, notebook, f"%pip install {name}==1.0") for name in names]
        cached = [await _cell(http, notebook, f"%pip install {names[0]}==1.0")
                  for _ in range(count)]
        await http.delete(f"/api/v1/notebooks/{notebook}")
    return [Figures("packages: %pip install in a notebook, first", first,
                    note="fetch + install + copy into the running kernel"),
            Figures("packages: %pip install in a notebook, cached layer", cached,
                    note="read the layer, copy into the kernel, sys.path")]


async def _cell(http: httpx.AsyncClient, notebook: str, code: str) -> float:
    started = time.perf_counter()
    response = await http.post(f"/api/v1/notebooks/{notebook}/cells?wait=true&timeout=170",
                               json={"code": code})
    elapsed = (time.perf_counter() - started) * 1000
    if response.json().get("verdict") != "ok":
        raise RuntimeError(f"unexpected answer: {response.text[:300]}")
    return elapsed


def layers(platform_id: str) -> set[str]:
    """The names of platform ``platform_id``'s package layers (Docker volumes)."""
    client = docker.APIClient()
    try:
        found = client.volumes(filters={"label": [
            f"{labels.ROLE}={LAYER_ROLE}", f"{labels.PLATFORM}={platform_id}"]})
    finally:
        client.close()
    return {volume["Name"] for volume in found.get("Volumes") or []}


def remove_layers(platform_id: str) -> None:
    """Remove the package layers (Docker volumes) of platform ``platform_id``."""
    client = docker.APIClient()
    try:
        for name in layers(platform_id):
            client.remove_volume(name, force=True)
    finally:
        client.close()

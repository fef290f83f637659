"""``coderunner bench``: the same hello world through the Judge0 and Piston compatible APIs
(docs/compat.md), to read beside the HTTP API's ``wait=true`` line."""

from __future__ import annotations

import time
from typing import Any

import httpx

from coderunner.bench import HELLO, Figures

WARM_UP = 10


async def timed_posts(http_url: str, count: int, path: str, body: dict[str, Any],
                      stdout: Any) -> list[float]:
    """``count`` POSTs of ``body`` one at a time, after ``WARM_UP`` unmeasured ones; each must
    answer ``stdout`` (read by ``stdout``)."""
    samples = []
    async with httpx.AsyncClient(base_url=http_url, timeout=60, trust_env=False) as http:
        for _ in range(count + WARM_UP):
            started = time.perf_counter()
            response = await http.post(path, json=body)
            samples.append((time.perf_counter() - started) * 1000)
            if stdout(response.json()) != "hello\n":
                raise RuntimeError(f"unexpected answer from {path}: {response.text[:200]}")
    return samples[WARM_UP:]


async def compat_wait(http_url: str, count: int) -> list[Figures]:
    """Judge0 ``POST /judge0/submissions?wait=true`` and Piston ``POST /api/v2/execute``."""
    judge0 = await timed_posts(
        http_url, count, "/judge0/submissions?wait=true&fields=stdout",
        {"source_code": HELLO, "language_id": 71}, lambda answer: answer.get("stdout"))
    piston = await timed_posts(
        http_url, count, "/api/v2/execute",
        {"language": "python", "version": "*", "files": [{"content": HELLO}]},
        lambda answer: answer.get("run", {}).get("stdout"))
    return [Figures("compat: Judge0 submissions, wait=true", judge0, note="same queue"),
            Figures("compat: Piston execute", piston, note="same queue")]

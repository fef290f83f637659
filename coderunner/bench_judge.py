"""``coderunner bench --judge``: 100 tests of an ``a+b`` C++ solution judged end to end (one
``POST /api/v1/judgements?wait=true``: compiled once per sandbox, the tests run on the owner's
warm sandboxes), beside the same 100 tests sent as 100 executions (each compiled and run), and
a judgement of one test (about one compile and one run). Goal (issue #21): the 100-test
judgement within 1.5 s on a 2-core machine. Figures go in docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from coderunner.bench import platform

TESTS = 100
ROUNDS = 5
CONCURRENCY = 16
"""Executions in flight at once for the baseline (the HTTP API's callers send them so)."""
SOLUTION = ("#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; "
            "std::cout << a + b << \"\\n\"; }\n")
SETTINGS = {"QUEUE_CAPACITY": "1000"}


def submission() -> dict[str, Any]:
    return {"language": "cpp", "mainFile": "main.cpp",
            "files": [{"name": "main.cpp", "content": SOLUTION}]}


def tests(count: int) -> list[dict[str, Any]]:
    return [{"name": str(n), "stdin": f"{n} {n * 7}\n", "expectedOutput": f"{n * 8}\n"}
            for n in range(count)]


async def judge(http: httpx.AsyncClient, count: int) -> float:
    """One judgement of ``count`` tests, end to end (ms); every test must pass."""
    started = time.perf_counter()
    response = await http.post("/api/v1/judgements?wait=true",
                               json={**submission(), "tests": tests(count)})
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if body.get("verdict") != "accepted" or body.get("passed") != count:
        raise RuntimeError(f"the judgement did not pass: {response.text[:300]}")
    return elapsed


async def executions(http: httpx.AsyncClient, count: int) -> float:
    """The same tests as ``count`` executions, ``CONCURRENCY`` at a time (ms for all)."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(test: dict[str, Any]) -> None:
        async with slots:
            response = await http.post("/api/v1/executions?wait=true",
                                       json={**submission(), "stdin": test["stdin"]})
            if response.json().get("stdout") != test["expectedOutput"]:
                raise RuntimeError(f"an execution failed: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(one(test) for test in tests(count)))
    return (time.perf_counter() - started) * 1000


async def measure(http_url: str) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"judgement, 1 test": [],
                                       f"judgement, {TESTS} tests": [],
                                       f"{TESTS} executions, {CONCURRENCY} at a time": []}
    async with httpx.AsyncClient(base_url=http_url, timeout=300, trust_env=False) as http:
        await judge(http, 1)  # warms the owner's sandbox and the compile path
        for _ in range(ROUNDS):
            figures["judgement, 1 test"].append(await judge(http, 1))
            figures[f"judgement, {TESTS} tests"].append(await judge(http, TESTS))
        for _ in range(max(1, ROUNDS // 2)):
            figures[f"{TESTS} executions, {CONCURRENCY} at a time"].append(
                await executions(http, TESTS))
    return figures


def main(as_json: bool) -> int:
    with platform(pool_size=2, extra=SETTINGS) as bench:
        figures = asyncio.run(measure(bench.http_url))
    summary = {name: {"n": len(samples), "median_ms": round(statistics.median(samples), 1),
                      "min_ms": round(min(samples), 1), "max_ms": round(max(samples), 1)}
               for name, samples in figures.items()}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for name, row in summary.items():
            print(f"{name:40} median {row['median_ms']:8.1f} ms   "
                  f"min {row['min_ms']:8.1f}   max {row['max_ms']:8.1f}   (n={row['n']})")
    return 0

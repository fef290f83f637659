"""``coderunner bench --start``: how soon does a platform that has just said it is up run a
hello world, and fill its warm pools, with the pools' creations taking turns
(``POOL_CREATIONS_AT_ONCE``, 3) beside all of them at once (as before the turns)?

Each round starts a platform of its own (every built language's pool, ``POOL_SIZE`` 2) and, the
moment it is ready, runs a Python hello world in a new session (``firstHelloMs``: what a
newcomer's first ``coderunner run`` after ``coderunner up`` waits for), then a second in another
new session (``secondHelloMs``), then waits until every pool is full (``poolsFullS``, from
ready). The two settings alternate, round after round, so that a machine slower in one minute
weighs on both.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import websockets
from rich.console import Console

from coderunner.bench import frame, one_run, platform, wait_for_pools
from contracts.settings import DEFAULT_RUNTIMES_DIR

SETTINGS = {"turns (3 at once)": "3", "all at once (before)": "1000"}
"""The label of each setting → its ``POOL_CREATIONS_AT_ONCE``."""
ROUNDS = 3
POOL_SIZE = 2


async def hello(url: str, request_id: str) -> float:
    """A hello world in a new session, in ms at the client."""
    async with websockets.connect(url) as ws:
        return await one_run(ws, request_id, frame(request_id))


def one_round(at_once: str) -> dict[str, float]:
    extra = {"POOL_CREATIONS_AT_ONCE": at_once}
    with platform(pool_size=POOL_SIZE, extra=extra, wait_pools=False) as bench:
        ready = time.monotonic()
        first = asyncio.run(hello(bench.ws_url, "first"))
        second = asyncio.run(hello(bench.ws_url, "second"))
        # Each hello's session keeps its container: two more than the pools hold.
        if not wait_for_pools(bench.runner_id, POOL_SIZE, str(DEFAULT_RUNTIMES_DIR), settle_s=0,
                              beside=2):
            raise SystemExit("coderunner bench --start: the warm pools did not fill in 120 s")
        return {"firstHelloMs": round(first, 1), "secondHelloMs": round(second, 1),
                "poolsFullS": round(time.monotonic() - ready, 2)}


def run(rounds: int, report: Any) -> dict[str, Any]:
    results: dict[str, list[dict[str, float]]] = {label: [] for label in SETTINGS}
    for n in range(rounds):
        for label, at_once in SETTINGS.items():
            report(f"round {n + 1} of {rounds}: {label}")
            results[label].append(one_round(at_once))
    summary = {}
    for label, rows in results.items():
        summary[label] = {
            "poolCreationsAtOnce": int(SETTINGS[label]),
            **{f"{key}Median": statistics.median(row[key] for row in rows) for key in rows[0]},
            "rounds": rows,
        }
    return summary


def main(as_json: bool, rounds: int = ROUNDS) -> int:
    console = Console(stderr=True)
    with console.status("benchmarking the start") as status:
        summary = run(rounds, status.update)
    if as_json:
        print(json.dumps(summary, indent=2))
        return 0
    out = Console()
    for label, figures in summary.items():
        out.print(f"{label}: first hello {figures['firstHelloMsMedian']:.0f} ms, second "
                  f"{figures['secondHelloMsMedian']:.0f} ms, pools full after "
                  f"{figures['poolsFullSMedian']:.1f} s (medians of {rounds})")
    return 0

"""``coderunner bench --idle-sockets [N]``: N browser sockets open on one edge, idle past the
edge's ping interval, then 100 of them run Python's hello world at once, in rounds.

Reports the edge's RSS before, with the N sockets idle and after the runs; the latency from
``execute_code`` sent to ``completion`` received (the first round makes each session's
container, later rounds reuse it, as a console tab does); and whether all N sockets are still
open at the end (each answers a ping). Traffic stays on loopback.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from rich.console import Console
from rich.table import Table
from websockets.asyncio.client import ClientConnection

from coderunner import rss
from coderunner.bench import Figures, one_run, platform

RUNNERS = 100
ROUNDS = 3
"""Warm rounds after the first (cold) one."""
SEQUENTIAL = 100
"""Runs one after another, among the idle sockets: the warm path with N sockets open."""
IDLE_S = 25.0
"""Longer than the edge's ping interval (20 s), so every socket has answered a ping."""
CONNECT_BATCH = 100
PING_TIMEOUT_S = 20.0
SPARE_FILES = 512
"""File descriptors beyond one per socket: the platform's own, Docker's, NATS's."""
GAUGE = "coderunner_websocket_connections "


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to ``wanted`` (at most the hard limit); the
    platform's processes, started afterwards, inherit it. Returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def gauge(metrics: str) -> int | None:
    """The open-socket gauge from the edge's Prometheus text."""
    for line in metrics.splitlines():
        if line.startswith(GAUGE):
            return round(float(line[len(GAUGE):]))
    return None


@dataclass
class Opened:
    sockets: list[ClientConnection]
    sessions: int
    """How many got a ``session`` frame first."""


async def open_sockets(url: str, count: int) -> Opened:
    sockets: list[ClientConnection] = []
    sessions = 0

    async def one() -> None:
        nonlocal sessions
        ws = await websockets.connect(url)
        sockets.append(ws)
        if json.loads(await ws.recv()).get("type") == "session":
            sessions += 1

    for start in range(0, count, CONNECT_BATCH):
        await asyncio.gather(*(one() for _ in range(min(CONNECT_BATCH, count - start))))
    return Opened(sockets, sessions)


async def run_round(sockets: list[ClientConnection], label: str) -> list[float]:
    """One hello world on each socket, all sent at once: ms from send to completion."""
    return list(await asyncio.gather(*(one_run(ws, f"{label}-{n}")
                                       for n, ws in enumerate(sockets))))


async def still_open(sockets: list[ClientConnection]) -> int:
    """Sockets that are open and answer a ping."""

    async def alive(ws: ClientConnection) -> bool:
        try:
            await asyncio.wait_for(await ws.ping(), PING_TIMEOUT_S)
        except (websockets.ConnectionClosed, TimeoutError):
            return False
        return True

    return sum(await asyncio.gather(*(alive(ws) for ws in sockets)))


async def idle_then_run(ws_url: str, http_url: str, edge_pid: int, count: int,
                        runners: int = RUNNERS, rounds: int = ROUNDS,
                        idle_s: float = IDLE_S) -> dict[str, Any]:
    runners = min(runners, count)
    before = rss.rss_mb(edge_pid)
    started = time.monotonic()
    opened = await open_sockets(ws_url, count)
    connect_s = time.monotonic() - started
    await asyncio.sleep(idle_s)
    with_sockets = rss.rss_mb(edge_pid)
    async with httpx.AsyncClient(base_url=http_url, trust_env=False, timeout=30) as http:
        counted = gauge((await http.get("/metrics")).text)
    try:
        chosen = opened.sockets[:runners]
        cold = Figures("first run in each session (new container)",
                       await run_round(chosen, "cold"))
        warm = Figures(f"{runners} at once, kept containers")
        for n in range(rounds):
            warm.samples_ms += await run_round(chosen, f"warm{n}")
        alone = Figures("one at a time, kept container")
        for n in range(SEQUENTIAL):
            alone.samples_ms.append(await one_run(chosen[n % len(chosen)], f"alone{n}"))
        after = rss.rss_mb(edge_pid)
        alive = await still_open(opened.sockets)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened.sockets))
    return {
        "sockets": count, "sessionFrames": opened.sessions, "connectSeconds": round(connect_s, 1),
        "idleSeconds": idle_s, "edgeGauge": counted, "openAtEnd": alive,
        "edgeRssMb": {"before": _round(before), "withSockets": _round(with_sockets),
                      "afterRuns": _round(after)},
        "edgeKbPerSocket": round((with_sockets - before) * 1024 / count, 1)
        if with_sockets is not None and before is not None and count else None,
        "runners": runners, "rounds": rounds,
        "latency": [_latency(cold), _latency(warm), _latency(alone)],
        "held": opened.sessions == count and alive == count,
    }


def _round(mb: float | None) -> float | None:
    return round(mb, 1) if mb is not None else None


def _latency(figures: Figures) -> dict[str, Any]:
    return {"name": figures.name, "n": len(figures.samples_ms),
            **{f"p{q}Ms": _round(figures.pct(q / 100)) for q in (50, 95, 99)}}


def render(figures: dict[str, Any], console: Console) -> None:
    memory = figures["edgeRssMb"]
    console.print(f"{figures['sockets']} sockets opened in {figures['connectSeconds']} s, "
                  f"{figures['sessionFrames']} session frames; idle {figures['idleSeconds']:.0f} "
                  f"s; the edge counts {figures['edgeGauge']} open")
    console.print(f"edge RSS: {memory['before']} MB before, {memory['withSockets']} MB with "
                  f"the sockets ({figures['edgeKbPerSocket']} KB each), {memory['afterRuns']} "
                  "MB after the runs")
    table = Table(title=f"hello world in Python on {figures['runners']} of the sockets, "
                        "send to completion (ms)")
    for column in ("round", "n", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column == "round" else "right")
    for row in figures["latency"]:
        table.add_row(row["name"], str(row["n"]), *(f"{row[k]:.1f}" for k in
                                                   ("p50Ms", "p95Ms", "p99Ms")))
    console.print(table)
    console.print(f"open at the end (answering a ping): {figures['openAtEnd']} of "
                  f"{figures['sockets']}")
    console.print("held" if figures["held"] else "DID NOT HOLD")


def main(count: int, as_json: bool) -> int:
    console = Console(stderr=True)
    wanted = count + SPARE_FILES
    limit = raise_open_files(wanted)
    if limit < wanted:
        console.print(f"open files are limited to {limit}; {count} sockets need {wanted}")
        return 1
    with console.status(f"idle sockets: starting a platform for {count} sockets…") as status:
        # Every socket comes from this machine's address: let them all run at once.
        extra = {"ADDRESS_MAX_UNFINISHED": str(max(count, RUNNERS))}
        with platform(pool_size=2, ttl_s=300, extra=extra) as bench:
            status.update(f"idle sockets: {count} open, then {RUNNERS} running at once…")
            figures = asyncio.run(idle_then_run(bench.ws_url, bench.http_url,
                                                bench.pids["edge"], count))
    if as_json:
        print(json.dumps(figures))
    else:
        render(figures, Console(width=120))
    return 0 if figures["held"] else 1

"""``coderunner bench --hosts``: throughput of short Python jobs through the HTTP API with 1, 2
and 3 runner hosts, side by side in one run, with the machine's CPU use.

One control plane (a nats-server, a dispatcher, an edge) serves every phase; the runner hosts
are extra Docker engines on this machine (``coderunner/multihost.py``), each with a runner and
a janitor. Each host runs at most ``SLOTS`` jobs at once, as a host of a given size would, so
that a second host adds capacity; whether that capacity turns into throughput is bounded by the
machine's cores, which every host shares: the CPU columns say how close to that bound it ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from coderunner.engines import Engine, running_engines
from coderunner.multihost import (
    ControlPlane,
    RunnerHost,
    control_plane,
    host_env,
    job_counts,
    jobs_since,
    wait_until_warm,
)

HOST_COUNTS = (1, 2, 3)
SLOTS = 4
"""Jobs one runner host runs at once (RUNNER_MAX_JOBS)."""
POOL_SIZE = 2
IN_FLIGHT = 24
"""Requests open at once: enough to fill three hosts' slots twice over."""
WARM_UP = 12
IMAGES = ["coderunner/python:latest"]
PLANE_SETTINGS = {"KEY_MAX_CONCURRENT": "500", "RATE_LIMIT_PER_MINUTE": "1000000",
                  "MAX_CONCURRENT_SESSIONS": "50", "QUEUE_CAPACITY": "200"}
BODY = {"language": "python", "mainFile": "main.py",
        "files": [{"name": "main.py", "content": "print('hello')"}]}
Advance = Callable[[], None]


@dataclass
class Phase:
    hosts: int
    jobs: int
    seconds: float
    cpu_percent: float
    """Busy share of all the machine's cores over the phase (100 = every core busy)."""
    load_before: float
    load_after: float
    """The one-minute load average before and at the end of the phase (the machine may be
    shared: a load above what the bench makes says someone else is using it)."""
    p50_ms: float
    p95_ms: float
    per_host: list[int]
    """Jobs each host ran, from the runners' heartbeats."""

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": round(self.per_second, 2)}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def load_1m() -> float:
    with open("/proc/loadavg") as loadavg:
        return float(loadavg.read().split()[0])


async def one_job(http: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    answer = await http.post("/api/v1/executions?wait=true", json=BODY)
    result = answer.json()
    if answer.status_code != 200 or (result.get("verdict"), result.get("stdout")) != (
            "ok", "hello\n"):
        raise RuntimeError(f"bench job failed: {answer.status_code} {answer.text[:300]}")
    return (time.perf_counter() - started) * 1000


async def measure(plane: ControlPlane, hosts: Sequence[RunnerHost], count: int,
                  advance: Advance) -> Phase:
    ids = [host.runner_id for host in hosts]
    async with httpx.AsyncClient(base_url=plane.url, timeout=120, trust_env=False) as http:
        start = await job_counts(plane.nats_url, ids)
        await asyncio.gather(*(one_job(http) for _ in range(WARM_UP)))
        await jobs_since(plane.nats_url, start, WARM_UP)  # until the heartbeats count them
        before = await job_counts(plane.nats_url, ids)
        pending = iter(range(count))
        samples: list[float] = []

        async def worker() -> None:
            for _ in pending:
                samples.append(await one_job(http))
                advance()

        load_before = load_1m()
        busy, total = cpu_ticks()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        seconds = time.perf_counter() - started
        busy_after, total_after = cpu_ticks()
    per_host = await jobs_since(plane.nats_url, before, count)
    quantiles = statistics.quantiles(samples, n=20)
    return Phase(len(hosts), count, round(seconds, 2),
                 round(100 * (busy_after - busy) / max(1, total_after - total), 1),
                 load_before, load_1m(), round(statistics.median(samples), 1),
                 round(quantiles[18], 1),
                 [per_host[i] for i in ids])


def phase(plane: ControlPlane, engines: Sequence[Engine], count: int, advance: Advance
          ) -> Phase:
    """Runner hosts on ``engines`` (new runner ids, so that no earlier heartbeat counts), warm,
    then ``count`` jobs; the hosts are stopped afterwards."""
    hosts = [RunnerHost(engine, host_env(
        engine, plane.env, {
            "RUNNER_ID": f"{plane.env['PLATFORM_ID']}-{engine.name}-of-{len(engines)}",
            "POOL_SIZE": str(POOL_SIZE), "RUNNER_MAX_JOBS": str(SLOTS), "KERNEL_SPARES": "0"}))
        for engine in engines]
    try:
        for host in hosts:
            host.start()
        asyncio.run(wait_until_warm(plane.nats_url, hosts))
        return asyncio.run(measure(plane, hosts, count, advance))
    finally:
        for host in hosts:
            host.stop()


def run(count: int, console: Console) -> list[Phase]:
    with tempfile.TemporaryDirectory(prefix="coderunner-bench-hosts-") as tmp, \
            control_plane(Path(tmp), settings=PLANE_SETTINGS) as plane:
        console.print(f"bench --hosts: starting {max(HOST_COUNTS)} Docker engines…")
        with running_engines(max(HOST_COUNTS), IMAGES) as engines, Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console) as bar:
            phases = []
            for n in HOST_COUNTS:
                task = bar.add_task(f"{n} runner host{'s' if n > 1 else ''}", total=count)
                phases.append(phase(plane, engines[:n], count, partial(bar.advance, task)))
            return phases


def render(phases: list[Phase], console: Console) -> None:
    table = Table(title=f"{phases[0].jobs} runs of hello world in Python over the HTTP API, "
                        f"{IN_FLIGHT} requests open, {SLOTS} slots per host, "
                        f"{os.cpu_count()} cores")
    for column in ("runner hosts", "seconds", "jobs/s", "vs 1 host", "p50 ms", "p95 ms",
                   "CPU %", "load 1 min", "jobs per host"):
        table.add_column(column, justify="right")
    for p in phases:
        table.add_row(str(p.hosts), f"{p.seconds:.1f}", f"{p.per_second:.1f}",
                      f"{p.per_second / phases[0].per_second:.2f}x", f"{p.p50_ms:.0f}",
                      f"{p.p95_ms:.0f}", f"{p.cpu_percent:.0f}",
                      f"{p.load_before:.1f} → {p.load_after:.1f}",
                      " / ".join(map(str, p.per_host)))
    console.print(table)


def main(count: int, as_json: bool) -> int:
    console = Console(stderr=True)
    phases = run(count, console)
    if as_json:
        print(json.dumps({"cores": os.cpu_count(), "slots_per_host": SLOTS,
                          "in_flight": IN_FLIGHT, "phases": [p.as_dict() for p in phases]}))
    else:
        render(phases, Console(width=140))
    return 0

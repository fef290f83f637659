"""``coderunner stats``: the queue, the runners and their pools, as a table or stable JSON.

The JSON is the ``AdminMetrics`` document of ``GET /api/admin/metrics`` (docs/api.md), read
straight from NATS: dispatchers answer ``stats.queue``, runners' heartbeats are in the
``runners`` bucket.
"""

from __future__ import annotations

import asyncio
import sys
import time

import nats.errors
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from contracts.api import AdminMetrics, to_json
from contracts.nats_options import NatsOptions
from edge.bus import EdgeBus
from edge.stats import admin_metrics

WATCH_EVERY_S = 2.0


async def collect(nats_url: str) -> AdminMetrics:
    bus = EdgeBus(nats_url, NatsOptions.from_env())  # the CLI is an entry point
    await bus.connect(once=True)
    try:
        queue = await bus.jobs.stats()
        return admin_metrics(await bus.runners.alive(), queue)
    finally:
        await bus.close()


def tables(metrics: AdminMetrics) -> Group:
    queue = Table(title="queue", title_justify="left")
    for column in ("waiting 2/1/0", "running", "cap", "ok", "failed", "expired",
                   "cancelled", "wall ms p50/95", "queue ms p50/95"):
        queue.add_column(column, justify="right")
    if metrics.queue is None:
        queue.add_row("no dispatcher answered", *[""] * 8)
    else:
        q = metrics.queue
        w = q.queue.waiting
        t = q.recent_task_times
        queue.add_row(f"{w.get('2', 0)}/{w.get('1', 0)}/{w.get('0', 0)}", str(q.queue.running),
                      str(q.queue.max_concurrent), str(q.completed), str(q.failed),
                      str(q.expired), str(q.cancelled),
                      f"{t.wall_ms_p50:.0f}/{t.wall_ms_p95:.0f}",
                      f"{t.queued_ms_p50:.0f}/{t.queued_ms_p95:.0f}")
    runners = Table(title="runners", title_justify="left")
    for column in ("runner", "active", "jobs", "reuse", "kept", "sessions", "kernels",
                   "taken away", "warm pools"):
        runners.add_column(column, justify="left" if column in ("runner", "warm pools")
                           else "right")
    for r in metrics.runners:
        pools = " ".join(f"{lang}:{p.warm}/{p.target}" for lang, p in sorted(r.pools.items()))
        reuse = f"{r.reused / r.jobs:.0%}" if r.jobs else "-"
        runners.add_row(r.runner_id, f"{r.active}/{r.capacity}", str(r.jobs), reuse,
                        str(r.kept), str(r.sessions), str(r.kernels), str(r.taken_away),
                        pools)
    summary = (f"containers: {metrics.containers_warm} warm, {metrics.containers_kept} kept, "
               f"{metrics.active} running; session networks: {metrics.sessions}; "
               f"notebook kernels: {metrics.kernels}; "
               f"sandboxes taken away: {metrics.taken_away}; "
               f"reuse rate {metrics.reuse_rate:.0%}; package layers: {layers_line(metrics)}")
    return Group(queue, runners, summary)


def main(nats_url: str, as_json: bool, watch: bool) -> int:
    try:
        return show(nats_url, as_json, watch)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        why = str(exc) or type(exc).__name__
        print(f"coderunner stats: cannot reach NATS at {nats_url}: {why}", file=sys.stderr)
        return 2


def show(nats_url: str, as_json: bool, watch: bool) -> int:
    if as_json and not watch:
        print(to_json(asyncio.run(collect(nats_url))).decode())
        return 0
    # Piped output is not cut to 80 columns: every runner's row stays whole.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not watch:
        console.print(tables(asyncio.run(collect(nats_url))))
        return 0
    with Live(console=console, auto_refresh=False) as live:
        try:
            while True:
                metrics = asyncio.run(collect(nats_url))
                if as_json:
                    print(to_json(metrics).decode(), flush=True)
                else:
                    live.update(tables(metrics), refresh=True)
                time.sleep(WATCH_EVERY_S)
        except KeyboardInterrupt:
            return 0


def layers_line(metrics: AdminMetrics) -> str:
    """The package layers of the fullest engine (runners sharing one report the same)."""
    fullest = max(metrics.runners, key=lambda r: r.package_bytes, default=None)
    if fullest is None:
        return "0"
    return f"{fullest.package_layers} ({fullest.package_bytes / 2**20:.1f} MiB)"

"""``coderunner stats``: the queue, the runners and their pools, in words within 80 columns,
or as stable JSON.

The JSON is the ``AdminMetrics`` document of ``GET /api/admin/metrics`` (docs/api.md), read
straight from NATS: dispatchers answer ``stats.queue``, runners' heartbeats are in the
``runners`` bucket.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

import nats.errors
from rich.console import Console
from rich.live import Live
from rich.text import Text

from contracts.api import AdminMetrics, to_json
from contracts.nats_options import NatsOptions
from edge.bus import EdgeBus
from edge.stats import admin_metrics

WATCH_EVERY_S = 2.0
WIDTH = 80


async def collect(nats_url: str) -> AdminMetrics:
    bus = EdgeBus(nats_url, NatsOptions.from_env())  # the CLI is an entry point
    await bus.connect(once=True)
    try:
        queue = await bus.jobs.stats()
        return admin_metrics(await bus.runners.alive(), queue)
    finally:
        await bus.close()


def report(metrics: AdminMetrics, width: int = WIDTH) -> str:
    """The metrics in words, every line at most ``width`` columns (long ones wrap, indented)."""
    paragraphs = [*queue_lines(metrics), "", *runner_lines(metrics), "",
                  *installation_lines(metrics)]
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, width, subsequent_indent="    ",
                               break_on_hyphens=False) or [""]
    return "\n".join(lines)


def queue_lines(metrics: AdminMetrics) -> list[str]:
    if metrics.queue is None:
        return ["Queue: no dispatcher answered."]
    stats = metrics.queue
    queue = stats.queue
    waiting = queue.waiting
    times = stats.recent_task_times
    return [
        f"Queue: {queue.depth} waiting (browser {waiting.get('2', 0)}, API "
        f"{waiting.get('1', 0)}, background {waiting.get('0', 0)}), {queue.running} running "
        f"of at most {queue.max_concurrent}, room for {queue.capacity} queued.",
        f"Finished since the dispatchers started: {stats.completed} ok, {stats.failed} "
        f"failed, {stats.expired} expired, {stats.cancelled} cancelled.",
        f"Last {times.count} runs: run time median {times.wall_ms_p50:.0f} ms, 95th "
        f"percentile {times.wall_ms_p95:.0f} ms; time queued median "
        f"{times.queued_ms_p50:.0f} ms, 95th percentile {times.queued_ms_p95:.0f} ms.",
        f"Dispatchers answering: {stats.dispatchers}.",
    ]


def runner_lines(metrics: AdminMetrics) -> list[str]:
    if not metrics.runners:
        return ["Runners: none alive."]
    lines = [f"Runners: {len(metrics.runners)} alive."]
    for r in metrics.runners:
        reused = f"{r.reused / r.jobs:.0%}" if r.jobs else "none"
        lines.append(
            f"  {r.runner_id}: {r.active} of {r.capacity} slots busy, {r.jobs} jobs run "
            f"({reused} in a reused container), {r.kept} containers kept, {r.sessions} "
            f"session networks, {r.kernels} notebook kernels, {r.taken_away} sandboxes taken "
            "away.")
        pools = ", ".join(f"{language} {p.warm}/{p.target}"
                          for language, p in sorted(r.pools.items()))
        lines.append(f"    Warm containers (ready/target): {pools or 'no pools'}.")
    return lines


def installation_lines(metrics: AdminMetrics) -> list[str]:
    return [
        f"Containers: {metrics.containers_warm} warm, {metrics.containers_kept} kept for "
        f"their owner's next run, {metrics.active} running.",
        f"Session networks: {metrics.sessions}. Notebook kernels: {metrics.kernels}. "
        f"Sandboxes taken away: {metrics.taken_away}.",
        f"Reuse rate: {metrics.reuse_rate:.0%} of jobs ran in a kept container. Package "
        f"layers: {layers_line(metrics)}.",
    ]


def main(nats_url: str, as_json: bool, watch: bool) -> int:
    try:
        return show(nats_url, as_json, watch)
    except BrokenPipeError:
        raise  # the reader of the output went away: not NATS (the CLI stops quietly)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        why = str(exc) or type(exc).__name__
        print(f"coderunner stats: cannot reach NATS at {nats_url}: {why}", file=sys.stderr)
        return 2


def show(nats_url: str, as_json: bool, watch: bool) -> int:
    if as_json and not watch:
        print(to_json(asyncio.run(collect(nats_url))).decode())
        return 0
    if not watch:
        print(report(asyncio.run(collect(nats_url))))
        return 0
    with Live(console=Console(), auto_refresh=False) as live:
        try:
            while True:
                metrics = asyncio.run(collect(nats_url))
                if as_json:
                    print(to_json(metrics).decode(), flush=True)
                else:
                    live.update(Text(report(metrics)), refresh=True)
                time.sleep(WATCH_EVERY_S)
        except KeyboardInterrupt:
            return 0


def layers_line(metrics: AdminMetrics) -> str:
    """The package layers of the fullest engine (runners sharing one report the same)."""
    fullest = max(metrics.runners, key=lambda r: r.package_bytes, default=None)
    if fullest is None:
        return "0"
    return f"{fullest.package_layers} ({fullest.package_bytes / 2**20:.1f} MiB)"

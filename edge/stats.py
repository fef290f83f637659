"""The operator's views: dispatcher answers and runner heartbeats combined (no I/O)."""

from __future__ import annotations

from contracts.api import AdminMetrics, PoolView, QueueStatsView, QueueView, RunnerView, TaskTimes
from contracts.messages import QueueStats, RunnerInfo
from contracts.subjects import PRIORITIES

NOT_FAILED = ("ok", "expired", "cancelled")


def combine_queue_stats(answers: list[QueueStats]) -> QueueStatsView | None:
    """Several dispatchers hold disjoint parts of the queue (summed) and each counts every
    completion since it started (the longest-running one's counts are taken). Running: the
    jobs the dispatchers released, or more when one counts more on the runners (jobs edges put
    straight on seats, which no dispatcher released)."""
    if not answers:
        return None
    waiting = {str(p): sum(a.waiting.get(str(p), 0) for a in answers) for p in PRIORITIES}
    oldest = min(answers, key=lambda a: a.started_at)
    verdicts = oldest.verdicts
    return QueueStatsView(
        queue=QueueView(
            waiting=waiting,
            depth=sum(waiting.values()),
            running=max(sum(a.running for a in answers),
                        max(a.on_runners for a in answers)),
            capacity=oldest.capacity,
            max_concurrent=oldest.max_concurrent,
        ),
        completed=verdicts.get("ok", 0),
        failed=sum(n for v, n in verdicts.items() if v not in NOT_FAILED),
        expired=verdicts.get("expired", 0),
        cancelled=verdicts.get("cancelled", 0),
        verdicts=verdicts,
        recent_task_times=TaskTimes(oldest.recent, oldest.wall_ms_p50, oldest.wall_ms_p95,
                                    oldest.queued_ms_p50, oldest.queued_ms_p95),
        dispatchers=len(answers),
    )


def admin_metrics(runners: list[RunnerInfo], queue: QueueStatsView | None) -> AdminMetrics:
    views = [
        RunnerView(
            runner_id=r.runner_id, active=r.active, capacity=r.capacity, kept=r.kept,
            jobs=r.jobs, reused=r.reused, sessions=r.sessions, last_heartbeat=r.at,
            kernels=r.kernels, taken_away=r.taken_away, package_layers=r.package_layers,
            package_bytes=r.package_bytes,
            pools={lang: PoolView(p.warm, p.target, p.created, p.create_ms_p50)
                   for lang, p in r.pools.items()},
        )
        for r in sorted(runners, key=lambda r: r.runner_id)
    ]
    pools: dict[str, PoolView] = {}
    for view in views:
        for lang, p in view.pools.items():
            seen = pools.get(lang, PoolView(0, 0, 0, 0.0))
            pools[lang] = PoolView(seen.warm + p.warm, seen.target + p.target,
                                   seen.created + p.created,
                                   max(seen.create_ms_p50, p.create_ms_p50))
    jobs = sum(r.jobs for r in runners)
    reused = sum(r.reused for r in runners)
    return AdminMetrics(
        runners=views,
        pools=dict(sorted(pools.items())),
        containers_warm=sum(p.warm for p in pools.values()),
        containers_kept=sum(r.kept for r in runners),
        sessions=sum(r.sessions for r in runners),
        active=sum(r.active for r in runners),
        jobs=jobs,
        reused=reused,
        reuse_rate=round(reused / jobs, 3) if jobs else 0.0,
        queue=queue,
        kernels=sum(r.kernels for r in runners),
        taken_away=sum(r.taken_away for r in runners),
    )

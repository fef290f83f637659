from __future__ import annotations

import msgspec

from contracts.api import PoolView
from contracts.messages import PoolInfo, QueueStats, RunnerInfo
from edge.stats import admin_metrics, combine_queue_stats


def answer(waiting: dict[str, int], running: int = 0, started_at: float = 0.0,
           verdicts: dict[str, int] | None = None, capacity: int = 8,
           max_concurrent: int = 16, recent: int = 0, wall_ms_p50: float = 0.0) -> QueueStats:
    return QueueStats(waiting=waiting, running=running, capacity=capacity,
                      max_concurrent=max_concurrent, verdicts=verdicts or {},
                      recent=recent, wall_ms_p50=wall_ms_p50, started_at=started_at)


def test_no_dispatcher_answers_means_no_stats() -> None:
    assert combine_queue_stats([]) is None


def test_waiting_and_running_are_summed_across_dispatchers() -> None:
    view = combine_queue_stats([
        answer({"2": 1, "1": 3}, running=2, started_at=10.0),
        answer({"1": 4, "0": 5}, running=1, started_at=20.0),
    ])
    assert view is not None
    assert view.queue.waiting == {"2": 1, "1": 7, "0": 5}
    assert view.queue.depth == 13
    assert view.queue.running == 3
    assert view.dispatchers == 2


def test_running_counts_what_a_dispatcher_sees_on_the_runners_when_it_is_more() -> None:
    """Jobs an edge put straight on seats were released by no dispatcher: each dispatcher
    counts them on the runners (``onRunners``); the largest count is taken when above the sum
    of the released ones, never added to it (each dispatcher counts every runner's jobs)."""
    released = msgspec.structs.replace(answer({}, running=2), on_runners=2)
    placed = msgspec.structs.replace(answer({}, running=1), on_runners=5)
    view = combine_queue_stats([released, placed])
    assert view is not None and view.queue.running == 5
    view = combine_queue_stats([msgspec.structs.replace(answer({}, running=3), on_runners=2)])
    assert view is not None and view.queue.running == 3


def test_counts_and_timings_come_from_the_longest_running_dispatcher() -> None:
    young = answer({}, started_at=500.0, verdicts={"ok": 1}, capacity=1, max_concurrent=2,
                   recent=1, wall_ms_p50=999.0)
    old = answer({}, started_at=100.0, verdicts={"ok": 40, "runtime_error": 2}, capacity=8,
                 max_concurrent=16, recent=42, wall_ms_p50=120.0)
    view = combine_queue_stats([young, old])
    assert view is not None
    assert view.completed == 40
    assert view.verdicts == {"ok": 40, "runtime_error": 2}
    assert view.queue.capacity == 8
    assert view.queue.max_concurrent == 16
    assert view.recent_task_times.count == 42
    assert view.recent_task_times.wall_ms_p50 == 120.0


def test_failed_counts_every_verdict_but_ok_expired_and_cancelled() -> None:
    verdicts = {"ok": 10, "expired": 3, "cancelled": 4, "runtime_error": 2, "time_limit": 1,
                "compile_error": 5, "internal_error": 1}
    view = combine_queue_stats([answer({}, verdicts=verdicts)])
    assert view is not None
    assert view.completed == 10
    assert view.failed == 9
    assert view.expired == 3
    assert view.cancelled == 4


def test_a_missing_priority_waits_zero() -> None:
    view = combine_queue_stats([answer({"2": 3})])
    assert view is not None
    assert view.queue.waiting == {"2": 3, "1": 0, "0": 0}
    assert view.failed == 0


# --- admin_metrics ----------------------------------------------------------------------------


def runner(runner_id: str, pools: dict[str, PoolInfo], jobs: int = 0, reused: int = 0,
           kept: int = 0, active: int = 0) -> RunnerInfo:
    return RunnerInfo(runner_id=runner_id, versions={}, active=active, capacity=4, at=1.0,
                      pools=pools, kept=kept, jobs=jobs, reused=reused)


def test_pools_are_summed_per_language_with_the_slowest_create_time() -> None:
    metrics = admin_metrics([
        runner("r2", {"python": PoolInfo(2, 3, 10, 150.0), "go": PoolInfo(1, 1, 2, 900.0)}),
        runner("r1", {"python": PoolInfo(1, 3, 5, 300.0)}),
    ], None)
    assert metrics.pools == {
        "go": PoolView(1, 1, 2, 900.0),
        "python": PoolView(3, 6, 15, 300.0),
    }
    assert list(metrics.pools) == ["go", "python"]
    assert metrics.containers_warm == 4


def test_runners_are_listed_by_id_and_totals_add_up() -> None:
    metrics = admin_metrics([
        runner("r2", {}, jobs=6, reused=3, kept=2, active=1),
        runner("r1", {}, jobs=4, reused=1, kept=1, active=2),
    ], None)
    assert [r.runner_id for r in metrics.runners] == ["r1", "r2"]
    assert metrics.jobs == 10
    assert metrics.reused == 4
    assert metrics.containers_kept == 3
    assert metrics.active == 3
    assert metrics.reuse_rate == 0.4
    assert metrics.queue is None


def test_the_reuse_rate_is_rounded() -> None:
    metrics = admin_metrics([runner("r1", {}, jobs=3, reused=1)], None)
    assert metrics.reuse_rate == 0.333


def test_no_jobs_means_a_zero_reuse_rate() -> None:
    metrics = admin_metrics([runner("r1", {})], None)
    assert metrics.reuse_rate == 0.0
    assert admin_metrics([], None).reuse_rate == 0.0


def test_the_queue_view_is_passed_through() -> None:
    queue = combine_queue_stats([answer({"1": 2})])
    assert admin_metrics([], queue).queue == queue

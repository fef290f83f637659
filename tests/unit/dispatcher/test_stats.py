from __future__ import annotations

import time

import pytest

from contracts.messages import CompletionEvent, QueueStats, Verdict
from dispatcher.stats import CompletionStats, percentile


def done(execution_id: str, verdict: Verdict = "ok", wall_ms: int = 100,
         queued_ms: int = 10) -> CompletionEvent:
    return CompletionEvent(execution_id, verdict, wall_ms=wall_ms, queued_ms=queued_ms)


def test_the_percentile_of_nothing_is_zero() -> None:
    assert percentile([], 0.5) == 0.0


def test_the_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 0.5) == 7.0
    assert percentile([7.0], 0.95) == 7.0


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        ([float(n) for n in range(1, 21)], 0.95, 19.0),
        ([float(n) for n in range(1, 21)], 0.5, 10.0),
        ([5.0, 1.0, 9.0], 1.0, 9.0),
        ([5.0, 1.0, 9.0], 0.0, 1.0),
    ],
)
def test_the_percentile_is_nearest_rank_over_sorted_values(
    values: list[float], fraction: float, expected: float
) -> None:
    assert percentile(values, fraction) == expected


def test_the_percentile_does_not_reorder_its_input() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 0.5)
    assert values == [3.0, 1.0, 2.0]


def test_a_redelivered_completion_is_counted_once() -> None:
    stats = CompletionStats()
    stats.record(done("e1", wall_ms=100))
    stats.record(done("e1", wall_ms=100))
    stats.record(done("e2", verdict="runtime_error", wall_ms=300))
    snapshot = stats.snapshot({}, 0, 1, 1)
    assert snapshot.verdicts == {"ok": 1, "runtime_error": 1}
    assert snapshot.recent == 2


def test_expired_and_cancelled_executions_have_no_wall_time() -> None:
    stats = CompletionStats()
    stats.record(done("e1", wall_ms=100, queued_ms=5))
    stats.record(done("e2", verdict="expired", wall_ms=0, queued_ms=60_000))
    stats.record(done("e3", verdict="cancelled", wall_ms=0, queued_ms=7))
    snapshot = stats.snapshot({}, 0, 1, 1)
    assert snapshot.recent == 1
    assert snapshot.wall_ms_p50 == 100.0
    assert snapshot.wall_ms_p95 == 100.0
    assert snapshot.queued_ms_p95 == 60_000.0  # queue time still counts
    assert snapshot.verdicts == {"ok": 1, "expired": 1, "cancelled": 1}


def test_a_snapshot_carries_the_queue_and_the_counts() -> None:
    before = time.time()
    stats = CompletionStats()
    for n in range(1, 11):
        stats.record(done(f"e{n}", wall_ms=n * 10, queued_ms=n))
    snapshot = stats.snapshot({2: 1, 1: 4, 0: 0}, running=3, capacity=8, max_concurrent=16)
    assert isinstance(snapshot, QueueStats)
    assert snapshot.waiting == {"2": 1, "1": 4, "0": 0}
    assert snapshot.running == 3
    assert snapshot.capacity == 8
    assert snapshot.max_concurrent == 16
    assert snapshot.verdicts == {"ok": 10}
    assert snapshot.wall_ms_p50 == 50.0
    assert snapshot.wall_ms_p95 == 100.0
    assert snapshot.queued_ms_p50 == 5.0
    assert snapshot.queued_ms_p95 == 10.0
    assert snapshot.recent == 10
    assert before <= snapshot.started_at <= time.time()


def test_an_empty_snapshot_has_zero_timings() -> None:
    snapshot = CompletionStats().snapshot({}, 0, 0, 0)
    assert snapshot.waiting == {}
    assert snapshot.verdicts == {}
    assert (snapshot.wall_ms_p50, snapshot.wall_ms_p95, snapshot.recent) == (0.0, 0.0, 0)


def test_the_median_of_five_values_is_the_third() -> None:
    assert percentile([5.0, 1.0, 4.0, 2.0, 3.0], 0.5) == 3.0
    assert percentile([float(n) for n in range(1, 10)], 0.5) == 5.0

"""The fleet bench's accounting (``coderunner.fleet_sim.Ledger``): lost, run twice and over
capacity are counted from what the simulated runners recorded, never assumed."""

from __future__ import annotations

import pytest

from coderunner.bench_fleet import observed_ms
from coderunner.fleet_observer import execution_of
from coderunner.fleet_sim import Ledger, Run


def ledger_of(*runs: Run, submitted: tuple[str, ...] = ("a", "b"),
              completed: tuple[str, ...] = ("a", "b")) -> Ledger:
    ledger = Ledger()
    for execution_id in submitted:
        ledger.submit(execution_id, 0.0)
    for execution_id in completed:
        ledger.complete(execution_id, "ok", 2.0)
    for run in runs:
        ledger.ran(run)
    return ledger


def test_a_job_run_on_two_runners_is_reported_duplicated() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3), Run("r2", "a", 0.1, 0.2, 0.3),
                       Run("r1", "b", 0.1, 0.2, 0.3))
    assert (ledger.duplicated(), ledger.lost()) == (1, 0)


def test_every_job_run_once_is_neither_duplicated_nor_lost() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3), Run("r2", "b", 0.1, 0.2, 0.3))
    assert (ledger.duplicated(), ledger.lost()) == (0, 0)


def test_a_completed_job_whose_run_is_not_recorded_yet_is_not_finished() -> None:
    """A simulated runner records its run once the dispatcher answers its completion's relay;
    the completion event may reach the ledger first. Counting then read the job as lost (the
    bench's lost 1 with an empty lostVerdicts in run G)."""
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3))
    ledger.submit("c", 0.0)
    ledger.complete("c", "expired", 2.0)  # a dispatcher's end: no run will come
    assert ledger.unfinished() == 1  # b: completed ok, its run not recorded yet
    ledger.ran(Run("r1", "b", 0.1, 0.2, 0.3))
    assert (ledger.unfinished(), ledger.lost()) == (0, 1)  # c is lost, b is not


def test_a_job_no_runner_ran_is_lost_even_with_a_completion() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3))
    assert ledger.lost() == 1


def test_a_job_run_whose_completion_never_came_is_lost() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3), Run("r1", "b", 0.1, 0.2, 0.3),
                       completed=("a",))
    assert ledger.lost() == 1


def test_a_refused_submission_is_not_counted_lost() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3), submitted=("a", "b"), completed=("a",))
    ledger.withdraw("b")
    assert ledger.lost() == 0


def test_a_release_to_a_full_runner_is_over_capacity() -> None:
    # Capacity 2: "c" is released at 0.5 while "a" and "b" (released before) still run.
    ledger = ledger_of(Run("r1", "a", 0.1, 0.1, 1.0), Run("r1", "b", 0.2, 0.2, 1.0),
                       Run("r1", "c", 0.5, 1.0, 1.5), submitted=("a", "b", "c"),
                       completed=("a", "b", "c"))
    assert ledger.over_capacity(2) == 1
    assert ledger.over_capacity(3) == 0


def test_a_release_after_a_slot_was_freed_is_not_over_capacity() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.1, 0.4), Run("r1", "b", 0.2, 0.2, 1.0),
                       Run("r1", "c", 0.5, 0.5, 1.5), submitted=("a", "b", "c"),
                       completed=("a", "b", "c"))
    assert ledger.over_capacity(2) == 0


def test_a_job_abandoned_by_a_silent_runner_still_holds_its_slot() -> None:
    ledger = ledger_of(Run("r1", "b", 0.5, 0.6, 0.7))
    ledger.abandon("r1", 0.1, 0.2)
    assert ledger.over_capacity(1) == 1
    assert ledger.over_capacity(2) == 0


def test_runners_are_counted_apart() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.1, 1.0), Run("r2", "b", 0.2, 0.2, 1.0))
    assert ledger.over_capacity(1) == 0


def test_placement_is_from_the_queue_to_the_first_release_of_jobs_seen_at_both() -> None:
    seen = {"queued": {"a": 1.000, "b": 1.000}, "released": {"a": 1.012, "c": 1.5}}
    assert observed_ms(seen, {"a", "b", "c"}, "queued", "released") == [pytest.approx(12.0)]
    assert execution_of("a1b2.j42") == execution_of("a1b2.r7") == execution_of("a1b2") == "a1b2"


def test_placement_splits_at_the_slot_taken() -> None:
    seen = {"queued": {"a": 1.000, "b": 1.000}, "slotted": {"a": 1.004, "b": 1.010},
            "released": {"a": 1.012}}
    assert sorted(observed_ms(seen, {"a", "b"}, "queued", "slotted")) == [
        pytest.approx(4.0), pytest.approx(10.0)]
    assert observed_ms(seen, {"a", "b"}, "slotted", "released") == [pytest.approx(8.0)]


def test_lost_jobs_are_told_apart_by_their_completions_verdict() -> None:
    ledger = ledger_of(Run("r1", "a", 0.1, 0.2, 0.3), submitted=("a", "b", "c", "d"),
                       completed=("a", "b"))
    ledger.complete("c", "internal_error", 2.0)
    assert ledger.lost_verdicts() == {"ok": 1, "internal_error": 1, "none": 1}

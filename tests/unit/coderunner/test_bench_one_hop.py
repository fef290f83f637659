"""The one-hop line's counts (``coderunner.bench_one_hop.Counts``): what the runners did, never
assumed."""

from __future__ import annotations

from coderunner.bench_one_hop import Counts


def counts(claimed: list[tuple[str, float]], completed: set[str]) -> Counts:
    return Counts(submitted={"a": 1.0, "b": 2.0}, claimed=claimed, completed=completed)


def test_a_job_claimed_twice_is_duplicated_and_timed_at_its_first_claim() -> None:
    seen = counts([("a", 1.010), ("b", 2.002), ("a", 31.0)], {"a", "b"})
    assert (seen.duplicated(), seen.lost()) == (1, 0)
    assert [round(ms) for ms in seen.claim_ms()] == [10, 2]


def test_a_job_never_completed_is_lost() -> None:
    seen = counts([("a", 1.010), ("b", 2.002)], {"a"})
    assert (seen.duplicated(), seen.lost()) == (0, 1)

"""The one-hop line's counts (``coderunner.bench_one_hop.Counts``): what the runners did, never
assumed."""

from __future__ import annotations

from typing import cast

import nats.js.errors
import pytest
from nats.js import JetStreamContext

from coderunner.bench_one_hop import Counts, NoFreeSeat, hold_seat, seat_subject
from contracts.nats_options import MAXIMUM_MESSAGES_EXCEEDED


def counts(claimed: list[tuple[str, float]], completed: set[str]) -> Counts:
    return Counts(submitted={"a": 1.0, "b": 2.0}, claimed=claimed, completed=completed)


def test_a_job_claimed_twice_is_duplicated_and_timed_at_its_first_claim() -> None:
    seen = counts([("a", 1.010), ("b", 2.002), ("a", 31.0)], {"a", "b"})
    assert (seen.duplicated(), seen.lost()) == (1, 0)
    assert [round(ms) for ms in seen.claim_ms()] == [10, 2]


def test_a_job_never_completed_is_lost() -> None:
    seen = counts([("a", 1.010), ("b", 2.002)], {"a"})
    assert (seen.duplicated(), seen.lost()) == (0, 1)


def test_seat_delays_are_timed_at_the_first_hold_and_a_hold_never_back_is_missing() -> None:
    seen = counts([("a", 1.010), ("b", 2.002)], {"a", "b"})
    seen.seated = [("a", 1.030), ("b", 2.004)]
    seen.holds_back = {"a"}
    assert [round(ms) for ms in seen.seat_ms()] == [30, 4]
    assert seen.holds_missing() == 1


class Seats:
    """A seats stream in memory: a publish on a seat that holds a message is refused."""

    def __init__(self, held: set[str]) -> None:
        self.held = held

    async def publish(self, subject: str, payload: bytes, stream: str) -> None:
        if subject in self.held:
            raise nats.js.errors.APIError(code=503, description="maximum messages per subject",
                                          err_code=MAXIMUM_MESSAGES_EXCEEDED)
        self.held.add(subject)


async def test_a_hold_skips_a_seat_the_stream_refuses_and_fails_with_none_left() -> None:
    seats = Seats({seat_subject(7, 1)})
    free = [0, 1]
    assert await hold_seat(cast(JetStreamContext, seats), 7, free, "a") == 0
    assert free == []
    with pytest.raises(NoFreeSeat):
        await hold_seat(cast(JetStreamContext, seats), 7, [1], "b")


class NoStream(Seats):
    async def publish(self, subject: str, payload: bytes, stream: str) -> None:
        raise nats.js.errors.APIError(code=404, description="stream not found", err_code=10059)


async def test_another_refusal_than_a_full_seat_is_not_taken_for_one() -> None:
    with pytest.raises(nats.js.errors.APIError, match="stream not found"):
        await hold_seat(cast(JetStreamContext, NoStream(set())), 7, [0, 1], "a")

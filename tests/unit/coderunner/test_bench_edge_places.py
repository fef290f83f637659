"""An edge's view of the seats in the fleet bench's edge-placed line
(``coderunner.bench_edge_places.SeatView``): free of I/O."""

from __future__ import annotations

import random

from coderunner.bench_edge_places import REFUSED_S, SeatView


def view(seats: dict[str, int]) -> SeatView:
    return SeatView(seats, random.Random(3))


def test_a_seat_filled_stays_held_until_its_job_completes() -> None:
    seats = view({"r1": 1})
    assert seats.choose(0.0) == ("r1", 0)
    seats.fill("a", "r1", 0)
    assert seats.choose(0.0) is None
    seats.completed("a")
    assert seats.choose(0.0) == ("r1", 0)


def test_a_refused_seat_counts_as_held_for_a_while() -> None:
    seats = view({"r1": 1})
    seats.refuse("r1", 0, now=10.0)
    assert seats.choose(10.0 + REFUSED_S - 0.01) is None
    assert seats.choose(10.0 + REFUSED_S) == ("r1", 0)


def test_the_freest_runner_drawn_gets_the_job() -> None:
    seats = view({"r1": 3, "r2": 3})
    seats.fill("a", "r1", 0)
    seats.fill("b", "r1", 1)
    chosen = [seats.choose(0.0) for _ in range(20)]
    assert {choice[0] if choice else None for choice in chosen} == {"r2"}

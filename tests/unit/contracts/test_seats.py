"""A picture of the runners' seats (contracts/seats.py), as a dispatcher or an edge keeps it: a
free seat at random, never one it knows held, a refused seat held for ``UNKNOWN_HOLDER_S`` by a
job not heard of."""

from __future__ import annotations

import random

from contracts.seats import HOLDER_KEPT_S, UNKNOWN_HOLDER_S, Seats


def test_a_seat_held_is_never_picked_and_a_freed_one_is_again() -> None:
    seats = Seats(random.Random(1))
    for n in range(3):
        seats.hold("r1", n, f"job{n}", 0.0)
    assert {seats.pick("r1", 4, now=0.0) for _ in range(50)} == {3}
    seats.free("job1")
    assert {seats.pick("r1", 4, now=0.0) for _ in range(50)} == {1, 3}


def test_free_seats_are_picked_at_random_not_lowest_first() -> None:
    seats = Seats(random.Random(2))
    assert {seats.pick("r1", 10, now=0.0) for _ in range(200)} == set(range(10))


def test_with_none_free_any_seat_is_tried() -> None:
    seats = Seats(random.Random(3))
    for n in range(2):
        seats.hold("r1", n, f"job{n}", 0.0)
    assert {seats.pick("r1", 2, now=0.0) for _ in range(50)} == {0, 1}


def test_a_refused_seat_counts_held_until_heard_or_for_a_while() -> None:
    seats = Seats(random.Random(4))
    seats.refused("r1", 0, now=10.0)
    assert {seats.pick("r1", 2, now=10.0) for _ in range(50)} == {1}
    assert {seats.pick("r1", 2, now=10.0 + UNKNOWN_HOLDER_S) for _ in range(50)} == {0, 1}
    seats.hold("r1", 0, "theirs", 0.0)  # heard: held by a known job now
    seats.free("theirs")
    assert {seats.pick("r1", 2, now=10.5) for _ in range(50)} == {0, 1}


def test_a_job_given_again_holds_only_its_new_seat_and_a_late_free_spares_the_new_holder() -> None:
    seats = Seats()
    seats.hold("r1", 0, "job", 0.0)
    seats.hold("r2", 5, "job", 0.0)  # moved off r1
    assert seats.seat_of("job") == ("r2", 5)
    seats.hold("r1", 0, "next", 0.0)
    seats.free("job")
    assert seats.seat_of("next") == ("r1", 0)
    assert {seats.pick("r1", 2, now=0.0) for _ in range(50)} == {1}


def test_a_forgotten_runner_holds_nothing() -> None:
    seats = Seats()
    seats.hold("r1", 0, "job", 0.0)
    seats.forget("r1")
    assert seats.seat_of("job") is None


def test_a_seat_held_past_its_time_without_a_completion_is_tried_again() -> None:
    seats = Seats(random.Random(5))
    seats.hold("r1", 0, "lost", 0.0)  # its completion missed in a reconnect, say
    assert {seats.pick("r1", 2, now=HOLDER_KEPT_S - 1) for _ in range(50)} == {1}
    assert {seats.pick("r1", 2, now=HOLDER_KEPT_S + 1) for _ in range(50)} == {0, 1}
    seats.hold("r1", 0, "next", HOLDER_KEPT_S + 1)
    assert seats.seat_of("lost") is None and seats.seat_of("next") == ("r1", 0)


def test_a_completion_requests_seat_header_is_read_strictly() -> None:
    from dispatcher.bus import seat_of_request

    assert seat_of_request("3 41") == (3, 41)
    for bad in (None, "", "3", "3 0", "-1 4", "3 4 5", "x 4", "3 y", " 3 4", "3  4"):
        assert seat_of_request(bad) is None, bad

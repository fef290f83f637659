"""Which of a runner's seats a job takes, free of I/O: the picture of the seats a dispatcher
keeps, and an edge too (``edge/seat_map.py``: edges put jobs straight on free seats while no job
waits).

A runner that announces seats (``RunnerInfo.seats``) has one subject per seat in the ``SEATS``
stream, which keeps one message per subject and refuses a publish to a subject that holds one
(``contracts.subjects.seat``): a job released on a seat holds it until the dispatcher relaying
its completion purges it (or the runner's ack removes it), so no two jobs ever hold one seat,
whichever dispatchers released them. This module only keeps one process's picture of the
seats, to pick one that is likely free: those it gave, those it heard another dispatcher or an
edge give (``released``), and those a refused publish showed held by a job it has not heard of
yet (``refused``: counted until it is heard, or ``UNKNOWN_HOLDER_S``). A free seat is picked at
random: the lowest free one made two dispatchers claim the same seat (run I, docs/benchmarks.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from contracts.messages import RunnerInfo

UNKNOWN_HOLDER_S = 1.0
"""How long a seat refused to this dispatcher counts as held by a job it has not heard of: a
release is heard within milliseconds (core NATS); after this, the seat is tried again."""
HOLDER_KEPT_S = 30.0
"""How long a seat counts as held without its job's completion (as ``fleet.THEIRS_KEPT_S``:
a completion missed in a NATS reconnect must not keep a seat from being tried for good)."""


@dataclass
class RunnerSeats:
    holders: dict[int, tuple[str, float]] = field(default_factory=dict)
    """Seat → the execution holding it, as this dispatcher knows, and since when."""
    unknown: dict[int, float] = field(default_factory=dict)
    """Seat → until when it counts as held by a job not heard of (monotonic seconds)."""


class Seats:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._runners: dict[str, RunnerSeats] = {}
        self._seat_of: dict[str, tuple[str, int]] = {}
        """Execution → (runner id, seat) it holds."""

    def pick(self, runner_id: str, capacity: int, now: float) -> int:
        """A seat of the runner's ``capacity`` that this dispatcher believes free, at random;
        when it believes none free (its picture may be late), any, at random: the stream
        decides."""
        free = self.free_seats(runner_id, capacity, now)
        return self._rng.choice(free) if free else self._rng.randrange(max(1, capacity))

    def free_seats(self, runner_id: str, capacity: int, now: float) -> list[int]:
        """The seats of the runner's ``capacity`` this picture holds free, lowest first."""
        seats = self._runners.get(runner_id)
        if seats is None:
            return list(range(capacity))
        return [n for n in range(capacity)
                if seats.holders.get(n, ("", float("-inf")))[1] < now - HOLDER_KEPT_S
                and seats.unknown.get(n, 0.0) <= now]

    def hold(self, runner_id: str, seat: int, execution_id: str, now: float) -> None:
        """``execution_id`` holds the seat (this dispatcher released it there, or heard it)."""
        self.free(execution_id)
        seats = self._runners.setdefault(runner_id, RunnerSeats())
        before = seats.holders.get(seat)
        if before is not None:  # its completion was missed: it holds nothing now
            self._seat_of.pop(before[0], None)
        seats.holders[seat] = (execution_id, now)
        seats.unknown.pop(seat, None)
        self._seat_of[execution_id] = (runner_id, seat)

    def refused(self, runner_id: str, seat: int, now: float) -> None:
        """A release on the seat was refused: a job this dispatcher has not heard of holds it."""
        seats = self._runners.setdefault(runner_id, RunnerSeats())
        if seat not in seats.holders:
            seats.unknown[seat] = now + UNKNOWN_HOLDER_S

    def free(self, execution_id: str) -> None:
        """The job no longer holds a seat (it completed, did not go, or was moved)."""
        where = self._seat_of.pop(execution_id, None)
        if where is None:
            return
        seats = self._runners.get(where[0])
        holder = seats.holders.get(where[1]) if seats is not None else None
        if seats is not None and holder is not None and holder[0] == execution_id:
            del seats.holders[where[1]]

    def seat_of(self, execution_id: str) -> tuple[str, int] | None:
        return self._seat_of.get(execution_id)

    def forget(self, runner_id: str) -> None:
        """A runner whose jobs were all moved elsewhere: none of its seats is held."""
        seats = self._runners.pop(runner_id, None)
        for execution_id, _ in seats.holders.values() if seats else ():
            self._seat_of.pop(execution_id, None)


def takes_language(info: RunnerInfo, language: str, usual: str | None) -> bool:
    """Whether a runner takes jobs of ``language``: it has it, with the fleet's usual image of
    it (``usual``: its inputs hash; None when no runner tells). A runner that tells no image of
    it is taken as usual (an older runner)."""
    return language in info.versions and (
        usual is None or info.images.get(language, usual) == usual)

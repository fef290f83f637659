"""The edge-placed line of ``coderunner bench --fleet``: a second load phase in each set-up where
two edges (``coderunner/edge_sim.py``, a process of their own) put each plain job straight on a
free seat of a runner (one hop: edge → ``SEATS`` → runner), the design docs/scale-out.md weighs
beside runners pulling plain jobs. Not the platform yet: everything else is (the real
dispatchers, which hear each placement as they hear each other's releases and relay the
completions; the simulated runners on the real runner bus, which claim from their seats as they
do today).

Each of ``EDGES`` edges keeps its own view of the seats (``SeatView``): those filled whose job
has not completed (its own placements, and every release it hears on ``released.*``: another
edge's or a dispatcher's), and those refused lately (filled by a release not heard yet).
A job goes to a free seat, in its view, of the freest of ``SAMPLED`` runners drawn at random;
the stream refuses a seat that holds a job ("discard new per subject"), and the edge tries
another, up to ``TRIES``; then the job goes to the queue as today (``fallbacks``), where the
dispatchers' priorities and fair share apply. A job goes on its seat exactly as a dispatcher
releases one (``DispatcherBus.release_on_seat``: under its execution id, then
``released.<id>``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from contracts.messages import ProgramJob, encode
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus, SeatTaken

EDGES = 2
SAMPLED = 4
TRIES = 8
REFUSED_S = 1.0
"""How long a seat the stream refused counts as held in an edge's view (its job is another
edge's or a dispatcher's: this edge never hears it end)."""


@dataclass
class SeatView:
    """One edge's picture of the runners' seats. Free of I/O."""

    seats: dict[str, int]
    """Each runner's seats (``RunnerInfo.capacity`` of a runner with seats)."""
    rng: random.Random = field(default_factory=random.Random)
    held: dict[str, set[int]] = field(default_factory=dict)
    refused: dict[tuple[str, int], float] = field(default_factory=dict)
    placed: dict[str, tuple[str, int]] = field(default_factory=dict)
    _runners: list[str] = field(default_factory=list)
    """``seats``' runners in one order, drawn from for every job (sorted once, not per job)."""

    def __post_init__(self) -> None:
        self._runners = sorted(self.seats)

    def free(self, runner: str, now: float) -> list[int]:
        held = self.held.get(runner, set())
        return [seat for seat in range(self.seats[runner]) if seat not in held
                and self.refused.get((runner, seat), 0.0) <= now]

    def choose(self, now: float) -> tuple[str, int] | None:
        """A free seat of the freest of ``SAMPLED`` runners drawn at random; None when none of
        them has one in this view."""
        sample = self.rng.sample(self._runners, min(SAMPLED, len(self._runners)))
        runner = max(sample, key=lambda r: len(self.free(r, now)))
        free = self.free(runner, now)
        return (runner, self.rng.choice(free)) if free else None

    def fill(self, execution_id: str, runner: str, seat: int) -> None:
        self.held.setdefault(runner, set()).add(seat)
        self.placed[execution_id] = (runner, seat)

    def refuse(self, runner: str, seat: int, now: float) -> None:
        self.refused[(runner, seat)] = now + REFUSED_S

    def completed(self, execution_id: str) -> None:
        if (place := self.placed.pop(execution_id, None)) is not None:
            self.held[place[0]].discard(place[1])


def edge_views(runners: Sequence[str], seats_each: int, edges: int = EDGES,
               seed: int = 1) -> list[SeatView]:
    """One view per edge, each drawing its own random runners."""
    return [SeatView({r: seats_each for r in runners}, random.Random(seed + n))
            for n in range(edges)]


class EdgePlacer:
    """Jobs placed by each of ``views`` in turn (one per edge), over one NATS connection."""

    def __init__(self, nc: Client, views: list[SeatView]) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self._seats = DispatcherBus(nc, self.js, DispatcherSettings())
        self.views = views
        self.tries: list[float] = []
        """How many seats each job placed on one tried (refusals + 1)."""
        self.fallbacks = 0
        self._turn = 0
        self._runner_of = {subjects.runner_token(r): r for view in views for r in view.seats}

    async def listen(self) -> Subscription:
        """Hear every release on a seat (an edge's or a dispatcher's), into every view, until
        the subscription returned ends."""

        async def on_msg(msg: Msg) -> None:
            token, _, seat = msg.data.decode(errors="replace").partition(" ")
            runner = self._runner_of.get(token)
            if runner is not None and seat.isdigit():
                for view in self.views:
                    view.fill(subjects.execution_of_release(msg.subject), runner, int(seat))

        return await self.nc.subscribe(subjects.RELEASED_ALL, cb=on_msg)

    async def place(self, job: ProgramJob) -> None:
        """On a free seat, or in the queue after ``TRIES`` refusals (or no free seat seen)."""
        view = self.views[self._turn]
        self._turn = (self._turn + 1) % len(self.views)
        for attempt in range(1, TRIES + 1):
            choice = view.choose(time.monotonic())
            if choice is None:
                break
            runner, seat = choice
            try:
                await self._seats.release_on_seat(encode(job), runner, seat, 0,
                                                  job.execution_id)
            except SeatTaken:
                view.refuse(runner, seat, time.monotonic())
                continue
            view.fill(job.execution_id, runner, seat)
            self.tries.append(attempt)
            return
        self.fallbacks += 1
        await self.js.publish(subjects.job_submit(job.priority), encode(job),
                              headers={"Nats-Msg-Id": job.execution_id}, timeout=30)

    def completed(self, execution_id: str) -> None:
        for view in self.views:
            view.completed(execution_id)

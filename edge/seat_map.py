"""An edge's picture of the runners' seats, free of I/O: whether it may put a job straight on a
free seat now, and which seat.

Placing straight takes away a job's hop through a dispatcher (docs/scale-out.md). It is done
only while every dispatcher heard within ``PLACEMENT_STATE_KEPT_S`` says no job waits in its
queue and no cap is set (``PlacementState``): whenever a job waits, the queue's priorities and
fair share decide, as before. The seats are pictured from what the edge hears: the runners'
heartbeats (who has seats, how many, which images), every job put on a seat (``released``: by a
dispatcher, by this edge or by another), every completion, and the seats the stream refused
(held by a job not heard of, for ``UNKNOWN_HOLDER_S``). The stream's one job per seat keeps
every runner within its seats whatever the picture says.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field

from contracts.messages import Job, PlacementState, ProgramJob, RunnerInfo
from contracts.seats import Seats, takes_language
from contracts.subjects import PLACEMENT_STATE_KEPT_S, RUNNER_SILENT_S, runner_token

SAMPLED = 4
"""Runners drawn at random for a job: the one with the most free seats gets it (the power of a
few choices: every edge choosing the freest of all would pile onto one runner)."""
DRAWN = 4 * SAMPLED
"""Runners looked at to find ``SAMPLED`` that take the job (a look at every runner for every
job cost a fifth of a millisecond with 200); all of them when these have none."""
OWNERS_REMEMBERED = 10_000
COMPLETIONS_REMEMBERED = 10_000
"""Completions kept to know a job put on a seat heard after its completion (not held then)."""


def placeable(job: Job) -> bool:
    """Whether a job may be put straight on a seat: a program that needs no particular runner
    (not a session's networked run, whose network lives on one runner; not a notebook cell,
    whose kernel does; not a judgement, which the queue orders)."""
    match job:
        case ProgramJob():
            return not job.network
        case _:
            return False


@dataclass
class HeardRunner:
    info: RunnerInfo
    heard: float
    """When its last heartbeat came (monotonic seconds)."""


@dataclass
class SeatMap:
    rng: random.Random = field(default_factory=random.Random)
    seats: Seats = field(init=False)
    runners: dict[str, HeardRunner] = field(default_factory=dict)
    states: dict[str, tuple[PlacementState, float]] = field(default_factory=dict)
    """Dispatcher id → its last ``PlacementState`` and when it came."""
    last_runner: OrderedDict[str, str] = field(default_factory=OrderedDict)
    """Owner → the runner this edge last put one of its jobs on (its kept container is there),
    the newest ``OWNERS_REMEMBERED``."""
    _by_token: dict[str, str] = field(default_factory=dict)
    _ids: list[str] = field(default_factory=list)
    """``runners``' ids in one order, drawn from for every job."""
    _completed: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.seats = Seats(self.rng)

    def heartbeat(self, info: RunnerInfo, now: float) -> None:
        if info.runner_id not in self.runners:
            self._ids.append(info.runner_id)
        self.runners[info.runner_id] = HeardRunner(info, now)
        self._by_token[runner_token(info.runner_id)] = info.runner_id

    def gone(self, runner_id: str) -> None:
        """The runner deleted its heartbeat (it stopped)."""
        if self.runners.pop(runner_id, None) is not None:
            self._ids.remove(runner_id)
            self._by_token.pop(runner_token(runner_id), None)
            self.seats.forget(runner_id)

    def state(self, state: PlacementState, now: float) -> None:
        self.states[state.dispatcher_id] = (state, now)

    def may_place(self, now: float) -> bool:
        """Whether jobs may go straight on seats: some dispatcher heard lately, and every one
        heard lately has no job waiting and no cap set."""
        heard = [state for state, at in self.states.values()
                 if now - at < PLACEMENT_STATE_KEPT_S]
        return bool(heard) and all(s.waiting == 0 and not s.capped for s in heard)

    def _usual_image(self, language: str, now: float) -> str | None:
        newest = max(((at, state) for state, at in self.states.values()
                      if now - at < PLACEMENT_STATE_KEPT_S), default=None,
                     key=lambda pair: pair[0])
        return newest[1].usual_images.get(language) if newest is not None else None

    def choose(self, language: str, owner: str, now: float) -> tuple[str, int] | None:
        """A free seat, in this picture, for a job of ``language``: on the owner's last runner
        while it has one, else on the freest of ``SAMPLED`` runners drawn at random among the
        live ones with seats that take the language; None when none of them has one."""
        usual = self._usual_image(language, now)
        last = self.last_runner.get(owner)
        if last is not None and self._takes(last, language, usual, now) \
                and (free := self._free(last, now)):
            return last, self.rng.choice(free)
        drawn = self.rng.sample(self._ids, min(DRAWN, len(self._ids)))
        takers = [r for r in drawn if self._takes(r, language, usual, now)][:SAMPLED]
        if not takers and len(drawn) < len(self._ids):
            takers = [r for r in self._ids if self._takes(r, language, usual, now)]
            takers = self.rng.sample(takers, min(SAMPLED, len(takers)))
        best: tuple[str, list[int]] | None = None
        for runner in takers:
            free = self._free(runner, now)
            if free and (best is None or len(free) > len(best[1])):
                best = runner, free
        return (best[0], self.rng.choice(best[1])) if best is not None else None

    def _takes(self, runner_id: str, language: str, usual: str | None, now: float) -> bool:
        heard = self.runners.get(runner_id)
        return heard is not None and heard.info.seats and now - heard.heard < RUNNER_SILENT_S \
            and takes_language(heard.info, language, usual)

    def _free(self, runner_id: str, now: float) -> list[int]:
        return self.seats.free_seats(runner_id, self.runners[runner_id].info.capacity, now)

    def placed(self, execution_id: str, owner: str, runner_id: str, seat: int,
               now: float) -> None:
        """This edge put the job on the seat."""
        self.seats.hold(runner_id, seat, execution_id, now)
        self.last_runner.pop(owner, None)
        self.last_runner[owner] = runner_id
        while len(self.last_runner) > OWNERS_REMEMBERED:
            self.last_runner.popitem(last=False)

    def released(self, execution_id: str, token: str, seat: int, now: float) -> None:
        """A dispatcher or an edge (this one too) put a job on the runner ``token`` names."""
        runner_id = self._by_token.get(token)
        if runner_id is not None and execution_id not in self._completed \
                and self.seats.seat_of(execution_id) != (runner_id, seat):
            self.seats.hold(runner_id, seat, execution_id, now)

    def refused(self, runner_id: str, seat: int, now: float) -> None:
        """The stream refused a job on the seat: one not heard of holds it."""
        self.seats.refused(runner_id, seat, now)

    def completed(self, execution_id: str) -> None:
        self.seats.free(execution_id)
        self._completed[execution_id] = None
        if len(self._completed) > COMPLETIONS_REMEMBERED:
            self._completed.popitem(last=False)

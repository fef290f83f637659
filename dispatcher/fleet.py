"""Which runner gets a job, free of I/O.

The dispatcher follows every runner's heartbeat (capacity, running jobs, free warm containers
per language) and adds what it sent since, and what other dispatchers sent (seen as they take
the jobs' slots), until each job's completion. A job goes to a live runner that has its language
and a free slot, preferring one with a free warm container of the language, then the most free
slots. An owner's session (its network, database and kept containers) and a notebook's kernel
live on one runner: their jobs go back to it while it lives (``hard`` affinity waits for a slot
there; kept containers alone are a preference). A runner silent for ``RUNNER_SILENT_S`` gets
nothing more.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from contracts.messages import CellJob, Job, JudgementJob, ProgramJob, RunnerInfo
from contracts.subjects import (
    RUNNER_SILENT_S,
    notebook_key,
    notebook_placement,
    runner_token,
    session_placement,
)

COMPLETIONS_REMEMBERED = 10_000
"""Completions kept to know a release heard after its job's completion (not counted then)."""
THEIRS_KEPT_S = 30.0
"""How long another dispatcher's job is counted on its runner without its completion: after
that, only from the runner's heartbeats (a completion missed in a NATS reconnect must not take
a slot for good)."""


@dataclass(frozen=True)
class Affinity:
    key: str
    """The placement key (``contracts.subjects.session_placement`` / ``notebook_placement``)."""
    hard: bool
    """The job needs that runner's state (a session network, a kernel), not just likes it."""
    in_order: bool = False
    """Jobs with this key run one at a time, in order (a notebook's cells share one kernel)."""


def affinity_of(job: Job) -> Affinity | None:
    match job:
        case CellJob():
            return Affinity(notebook_placement(notebook_key(job.owner, job.notebook_id)),
                            hard=True, in_order=True)
        case ProgramJob() if job.network:
            return Affinity(session_placement(job.owner), hard=True)
        case ProgramJob() if job.reuse_key:
            return Affinity(session_placement(job.owner), hard=False)
        case ProgramJob():
            return None
        case JudgementJob() if job.reuse_key:
            return Affinity(session_placement(job.owner), hard=False)
        case JudgementJob():
            return None


@dataclass
class TrackedRunner:
    """A runner as this dispatcher follows it: its heartbeat and the jobs sent to it since
    (the API's picture of a runner is ``contracts.api.RunnerView``)."""

    info: RunnerInfo
    seen: float
    """When its last heartbeat arrived (this process's monotonic clock)."""
    mine: set[str] = field(default_factory=set)
    """Jobs this dispatcher sent it that have not completed."""
    theirs: dict[str, float] = field(default_factory=dict)
    """Jobs other dispatchers sent it that have not completed (→ when this one heard of it)."""
    others: int = 0
    """Jobs it ran at its last heartbeat that were in neither ``mine`` nor ``theirs``
    (another dispatcher's, heard of before this one started, or after ``THEIRS_KEPT_S``)."""
    sent_since: Counter[str] = field(default_factory=Counter)
    """Jobs per language sent since its last heartbeat (they took warm containers)."""

    def free_slots(self) -> int:
        return self.info.capacity - len(self.mine) - len(self.theirs) - self.others

    def free_warm(self, language: str) -> int:
        pool = self.info.pools.get(language)
        return max(0, (pool.warm if pool else 0) - self.sent_since[language])


class Fleet:
    def __init__(self, silent_s: float = RUNNER_SILENT_S) -> None:
        self.silent_s = silent_s
        self.runners: dict[str, TrackedRunner] = {}
        self._runner_of: dict[str, str] = {}
        self._theirs_on: dict[str, str] = {}
        """Another dispatcher's job → its runner."""
        self._by_token: dict[str, str] = {}
        """``runner_token`` → runner id (a slot names its runner by token)."""
        self._completed: dict[str, None] = {}
        """The newest ``COMPLETIONS_REMEMBERED`` completions, oldest first."""
        self._usual: dict[str, str] = {}
        """Language → its usual image, counted when a runner comes, beats or goes (a release
        only looks it up)."""

    def heartbeat(self, info: RunnerInfo, now: float) -> None:
        view = self.runners.get(info.runner_id)
        if view is None:
            self.runners[info.runner_id] = TrackedRunner(info, now, others=info.active)
            self._by_token[runner_token(info.runner_id)] = info.runner_id
        else:
            view.info, view.seen = info, now
            for execution_id, heard in list(view.theirs.items()):
                if now - heard > THEIRS_KEPT_S:
                    self._not_theirs(execution_id)
            # Each job it reports counts once: what this dispatcher knows of is counted already.
            view.others = max(0, info.active - len(view.mine) - len(view.theirs))
            view.sent_since.clear()
        self._count_images(now)

    def gone(self, runner_id: str, now: float | None = None) -> None:
        """The runner deleted its heartbeat (it stopped): treat it as silent from now
        (``now``: by default, when the newest heartbeat came)."""
        view = self.runners.get(runner_id)
        if view is not None:
            view.seen = float("-inf")
            self._count_images(max((v.seen for v in self.runners.values()), default=0.0)
                               if now is None else now)

    def forget(self, runner_id: str) -> None:
        """Drop a silent runner whose jobs were all moved elsewhere."""
        view = self.runners.pop(runner_id, None)
        self._by_token.pop(runner_token(runner_id), None)
        for execution_id in view.mine if view else ():
            self._runner_of.pop(execution_id, None)
        for execution_id in view.theirs if view else ():
            self._theirs_on.pop(execution_id, None)

    def is_alive(self, view: TrackedRunner, now: float) -> bool:
        return now - view.seen < self.silent_s

    def slots(self, now: float) -> int:
        """The live runners' slots together (their ``RUNNER_MAX_JOBS``)."""
        return sum(v.info.capacity for v in self.runners.values() if self.is_alive(v, now))

    def alive(self, now: float) -> set[str]:
        """The runners heard from within ``silent_s``."""
        return {r for r, view in self.runners.items() if self.is_alive(view, now)}

    def usual_image(self, language: str) -> str | None:
        """The inputs hash of ``language``'s image on most of the live runners' slots (ties:
        the greatest hash), or None when no runner tells (older runners do not); as counted
        at the last heartbeat (a runner gone silent since drops out at the next one)."""
        return self._usual.get(language)

    def _count_images(self, now: float) -> None:
        slots: dict[str, Counter[str]] = {}
        for view in self.runners.values():
            if self.is_alive(view, now):
                for language, image in view.info.images.items():
                    if image:
                        slots.setdefault(language, Counter())[image] += max(
                            1, view.info.capacity)
        self._usual = {language: max(count, key=lambda image: (count[image], image))
                       for language, count in slots.items()}

    def choose(self, language: str, now: float, prefer: str | None = None,
               hard: bool = False) -> str | None:
        """The runner for a job of ``language``; None when none can take it now. Only runners
        with the fleet's usual image of the language take it (one whose image drifted does not,
        for that language; a runner that tells no image is taken as usual)."""
        usual = self.usual_image(language)
        best: str | None = None
        best_key: tuple[bool, int, int, str] | None = None
        for runner_id, view in self.runners.items():  # one pass: it runs for every release
            if not (self.is_alive(view, now) and language in view.info.versions
                    and (usual is None or view.info.images.get(language, usual) == usual)):
                continue
            free = view.free_slots()
            if runner_id == prefer and (hard or free > 0):
                return prefer if free > 0 else None
            if free <= 0:
                continue
            warm = view.free_warm(language)
            key = (warm > 0, free, warm, runner_id)
            if best_key is None or key > best_key:
                best, best_key = runner_id, key
        return best

    def sent(self, runner_id: str, execution_id: str, language: str) -> None:
        self._not_theirs(execution_id)  # heard as another's before (its slot refused, say)
        view = self.runners[runner_id]
        view.mine.add(execution_id)
        view.sent_since[language] += 1
        self._runner_of[execution_id] = runner_id

    def runner_of(self, execution_id: str) -> str | None:
        """The runner this dispatcher sent a job to that has not completed, if any."""
        return self._runner_of.get(execution_id)

    def released_by_another(self, execution_id: str, token: str, now: float) -> None:
        """Another dispatcher gave a job to the runner ``token`` names (it took the job's slot):
        counted there until its completion. Not counted: this dispatcher's own (heard back), a
        job whose completion came first, a runner this dispatcher has not heard of."""
        runner_id = self._by_token.get(token)
        view = self.runners.get(runner_id) if runner_id is not None else None
        if view is None or execution_id in self._runner_of or execution_id in self._completed:
            return
        self._not_theirs(execution_id)  # given again elsewhere (moved off a silent runner)
        view.theirs[execution_id] = now
        self._theirs_on[execution_id] = view.info.runner_id

    def _not_theirs(self, execution_id: str) -> None:
        runner_id = self._theirs_on.pop(execution_id, None)
        view = self.runners.get(runner_id) if runner_id is not None else None
        if view is not None:
            view.theirs.pop(execution_id, None)

    def completed(self, execution_id: str) -> None:
        """A job completed (any dispatcher's): its runner's slot is free."""
        self.taken_back(execution_id)
        self._completed[execution_id] = None
        if len(self._completed) > COMPLETIONS_REMEMBERED:
            del self._completed[next(iter(self._completed))]

    def taken_back(self, execution_id: str) -> None:
        """A job no longer counts on the runner it was sent to: it did not go (its slot was
        refused, its publish failed), it was moved off a silent runner, or it completed."""
        self._not_theirs(execution_id)
        runner_id = self._runner_of.pop(execution_id, None)
        view = self.runners.get(runner_id) if runner_id else None
        if view is not None:
            view.mine.discard(execution_id)

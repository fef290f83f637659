"""Which runner gets a job, free of I/O.

The dispatcher follows every runner's heartbeat (capacity, running jobs, free warm containers
per language) and adds what it sent since, and what other dispatchers sent (heard as they
release the jobs, on a seat or with a slot), until each job's completion. A job goes to a live
runner that has its language and a free slot, preferring one with a free warm container of the
language, then the most free slots. An owner's session (its network, database and kept
containers) and a notebook's kernel live on one runner: their jobs go back to it while it lives
(``hard`` affinity waits for a slot there; kept containers alone are a preference). A runner
silent for ``RUNNER_SILENT_S`` gets nothing more.
"""

from __future__ import annotations

import heapq
import zlib
from collections import Counter
from dataclasses import dataclass, field

from contracts.messages import CellJob, Job, JudgementJob, ProgramJob, RunnerInfo
from contracts.seats import takes_language
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
RECOUNT_EVERY_S = 1.0
"""How often a heartbeat that changes nothing counts the fleet's images again (a runner gone
silent stops counting within it); a runner that comes, goes or changes is counted at once."""

Entry = tuple[bool, int, int, int, str, int]
"""A runner in a language's choice heap: (no free warm container, minus its free slots, minus
its free warm containers, minus its tie-break rank, its id, its ``version`` then): the smallest
is the best runner, as long as the version is still the runner's."""


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
    usable: frozenset[str] = frozenset()
    """The languages it takes jobs of: those it has, with the fleet's usual image (counted
    with the images)."""
    rank: int = 0
    """Breaks ties between runners as free as each other, differently in each dispatcher
    (several dispatchers deciding at once do not all pick the same one)."""
    version: int = 0
    """Counts the changes of its free slots and warm containers."""

    def free_slots(self) -> int:
        return self.info.capacity - len(self.mine) - len(self.theirs) - self.others

    def free_warm(self, language: str) -> int:
        pool = self.info.pools.get(language)
        return max(0, (pool.warm if pool else 0) - self.sent_since[language])


class Fleet:
    """The runners and their free slots. ``choose`` runs for every job released: it takes the
    best runner off a heap per language (``Entry``) instead of looking at every runner (about
    0.2 ms a job with 200 runners). A change of a runner's free slots marks it for the heaps of
    its languages, pushed again at their next choice; an entry whose runner changed since is
    dropped when it comes to the top."""

    def __init__(self, silent_s: float = RUNNER_SILENT_S, tie: str = "") -> None:
        self.silent_s = silent_s
        self._tie = tie
        """Seeds ``TrackedRunner.rank``: each dispatcher gives its own."""
        self.runners: dict[str, TrackedRunner] = {}
        self._runner_of: dict[str, str] = {}
        self._theirs_on: dict[str, str] = {}
        """Another dispatcher's job → its runner."""
        self._by_token: dict[str, str] = {}
        """``runner_token`` → runner id (a slot names its runner by token)."""
        self._completed: dict[str, None] = {}
        """The newest ``COMPLETIONS_REMEMBERED`` completions, oldest first."""
        self._usual: dict[str, str] = {}
        """Language → its usual image, counted when a runner comes, goes or changes, and at a
        heartbeat ``RECOUNT_EVERY_S`` after the last count (a release only looks it up)."""
        self._counted_at = float("-inf")
        self._counted_alive: set[str] = set()
        """The live runners at the last count: a heartbeat ``RECOUNT_EVERY_S`` later counts
        again only when they changed (one went silent)."""
        self._heaps: dict[str, list[Entry]] = {}
        self._stale: dict[str, set[str]] = {}
        """Language → runners whose entry in its heap is to be pushed again."""

    def heartbeat(self, info: RunnerInfo, now: float) -> None:
        view = self.runners.get(info.runner_id)
        if view is None:
            rank = zlib.crc32(f"{self._tie}/{info.runner_id}".encode())
            view = TrackedRunner(info, now, others=info.active, rank=rank)
            self.runners[info.runner_id] = view
            self._by_token[runner_token(info.runner_id)] = info.runner_id
            recount = True
        else:
            before = view.info
            recount = (not self.is_alive(view, now) or before.capacity != info.capacity
                       or before.versions != info.versions or before.images != info.images)
            view.info = info
            for execution_id, heard in list(view.theirs.items()):
                if now - heard > THEIRS_KEPT_S:
                    self._not_theirs(execution_id)
            # Each job it reports counts once: what this dispatcher knows of is counted already.
            view.others = max(0, info.active - len(view.mine) - len(view.theirs))
            view.sent_since.clear()
        view.seen = now
        if not recount and now - self._counted_at >= RECOUNT_EVERY_S:
            self._counted_at = now
            recount = self.alive(now) != self._counted_alive
        if recount:
            self._count_images(now)
        else:
            self._changed(view)

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

    def on_runners(self, now: float) -> int:
        """Jobs on the live runners as counted here (``TrackedRunner.free_slots``' terms)."""
        return sum(len(v.mine) + len(v.theirs) + v.others
                   for v in self.runners.values() if self.is_alive(v, now))

    def alive(self, now: float) -> set[str]:
        """The runners heard from within ``silent_s``."""
        return {r for r, view in self.runners.items() if self.is_alive(view, now)}

    def usual_image(self, language: str) -> str | None:
        """The inputs hash of ``language``'s image on most of the live runners' slots (ties:
        the greatest hash), or None when no runner tells (older runners do not); as last
        counted (a runner gone silent drops out at the first heartbeat ``RECOUNT_EVERY_S``
        after the last count)."""
        return self._usual.get(language)

    def usual_images(self) -> dict[str, str]:
        """``usual_image`` of every language a runner tells one of."""
        return dict(self._usual)

    def _count_images(self, now: float) -> None:
        """Count the usual images, then each runner's usable languages; the heaps start
        again (every runner is pushed again at its languages' next choice)."""
        self._counted_at, self._counted_alive = now, self.alive(now)
        slots: dict[str, Counter[str]] = {}
        for view in self.runners.values():
            if self.is_alive(view, now):
                for language, image in view.info.images.items():
                    if image:
                        count = slots.get(language)
                        if count is None:
                            count = slots[language] = Counter()
                        count[image] += max(1, view.info.capacity)
        self._usual = {language: max(count, key=lambda image: (count[image], image))
                       for language, count in slots.items()}
        self._heaps.clear()
        self._stale.clear()
        for runner_id, view in self.runners.items():
            view.usable = frozenset(
                language for language in view.info.versions
                if takes_language(view.info, language, self._usual.get(language)))
            for language in view.usable:
                self._stale.setdefault(language, set()).add(runner_id)

    def _changed(self, view: TrackedRunner) -> None:
        """Its free slots or warm containers changed: its heap entries are stale."""
        view.version += 1
        for language in view.usable:
            stale = self._stale.get(language)
            if stale is None:
                stale = self._stale[language] = set()
            stale.add(view.info.runner_id)

    @staticmethod
    def _entry(view: TrackedRunner, language: str) -> Entry:
        warm = view.free_warm(language)
        return (warm <= 0, -view.free_slots(), -warm, -view.rank, view.info.runner_id,
                view.version)

    def choose(self, language: str, now: float, prefer: str | None = None,
               hard: bool = False) -> str | None:
        """The runner for a job of ``language``; None when none can take it now: a live one
        whose image of it is the fleet's usual one (a runner whose image drifted takes none of
        that language's jobs; one that tells no image is taken as usual), with a free warm
        container first, then the most free slots, then the most warm containers. ``prefer``
        (a session's or notebook's runner) goes first while it has a free slot; ``hard``: only
        it (None until it has one)."""
        if prefer is not None:
            view = self.runners.get(prefer)
            if view is not None and language in view.usable and self.is_alive(view, now):
                if view.free_slots() > 0:
                    return prefer
                if hard:
                    return None
        heap = self._heap(language)
        while heap:
            *_, runner_id, version = heap[0]
            view = self.runners.get(runner_id)
            if view is not None and view.version == version and language in view.usable \
                    and self.is_alive(view, now) and view.free_slots() > 0:
                return runner_id
            # Changed since (it is pushed again), silent (again at its next heartbeat), full
            # (again when a job of it ends) or gone.
            heapq.heappop(heap)
        return None

    def _heap(self, language: str) -> list[Entry]:
        """``language``'s heap with its stale runners pushed again; built anew when the
        entries left behind by changes outnumber the runners."""
        heap = self._heaps.setdefault(language, [])
        stale = self._stale.pop(language, set())
        if len(heap) + len(stale) > 2 * len(self.runners) + 64:
            stale.update(entry[4] for entry in heap)
            heap.clear()
        for runner_id in stale:
            view = self.runners.get(runner_id)
            if view is not None and language in view.usable:
                heapq.heappush(heap, self._entry(view, language))
        return heap

    def sent(self, runner_id: str, execution_id: str, language: str) -> None:
        self._not_theirs(execution_id)  # heard as another's before (its slot refused, say)
        view = self.runners[runner_id]
        view.mine.add(execution_id)
        view.sent_since[language] += 1
        self._runner_of[execution_id] = runner_id
        self._changed(view)

    def given_to(self, execution_id: str) -> str | None:
        """The runner a job not yet completed was given to, by this dispatcher or (heard as it
        was released on a seat, or its slot taken) another; None when this dispatcher does not
        know. Releases and slots are heard from dispatchers only (runners may publish neither);
        a slot refused by a full ``SLOTS`` stream is heard too and names a runner the job did
        not go to, which never learns its execution id."""
        return self._runner_of.get(execution_id) or self._theirs_on.get(execution_id)

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
        self._changed(view)

    def _not_theirs(self, execution_id: str) -> None:
        runner_id = self._theirs_on.pop(execution_id, None)
        view = self.runners.get(runner_id) if runner_id is not None else None
        if view is not None:
            view.theirs.pop(execution_id, None)
            self._changed(view)

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
            self._changed(view)

"""Dispatch decisions, free of I/O: highest priority first, a concurrency cap, queue expiry,
and a fair share between owners. Jobs of one group (a notebook's cells) run one at a time, in
order: a waiting job whose group has one running is passed over, and the jobs behind it may go
first; so is a job that no runner can take yet (none has its language, or each one that could
is full).

Fair share: within a priority, the next job is the oldest of the owner that has the fewest jobs
running (so the waiting jobs of different owners take turns, FIFO within each owner). An owner
that holds ``owner_cap`` slots or more is passed over, whatever its priority, while another
owner's job waits that could go; when none waits, it may take every free slot (no slot stays
idle). So one owner with hundreds of jobs queued delays another's job by one completion at most.

The bus feeds jobs in as they arrive and asks for the next one to release whenever a slot may
be free; completions free slots.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.subjects import PRIORITIES

T = TypeVar("T")

STOPS_REMEMBERED = 10_000
"""Stops kept for jobs not yet queued (see ``DispatchQueue.cancel``)."""


@dataclass
class Waiting(Generic[T]):
    execution_id: str
    priority: int
    submitted_at: float
    handle: T
    group: str | None = None
    owner: str = ""
    """Whose job it is (``Job.owner``): slots are shared fairly between owners."""


class DispatchQueue(Generic[T]):
    def __init__(self, max_concurrent: int, queue_timeout_s: float,
                 owner_share: float = 1.0) -> None:
        self.queue_timeout_s = queue_timeout_s
        self.owner_share = owner_share
        self.max_concurrent = max_concurrent
        self.owner_cap = max(1, math.floor(max_concurrent * owner_share))
        """Slots an owner may hold while another owner's job waits."""
        self._queues: dict[int, deque[Waiting[T]]] = {p: deque() for p in PRIORITIES}
        self._known: set[str] = set()
        self.running: set[str] = set()
        self._group_of: dict[str, str] = {}
        """Running execution → its group; a group is busy while one of its jobs runs."""
        self._owner_of: dict[str, str] = {}
        self.running_by_owner: Counter[str] = Counter()
        self.expired = 0
        self._stopped: dict[str, float] = {}
        """Stops that came before their job was queued here (execution id → when), oldest
        first: the job is cancelled when it arrives (``stopped_on_arrival``)."""

    def resize(self, max_concurrent: int) -> None:
        """A new global cap (the fleet's slots changed); running jobs above it just finish."""
        self.max_concurrent = max_concurrent
        self.owner_cap = max(1, math.floor(max_concurrent * self.owner_share))

    def depth(self) -> dict[int, int]:
        return {p: len(q) for p, q in self._queues.items()}

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def add(self, item: Waiting[T]) -> bool:
        """Queue a job; False for a duplicate of one already queued or running."""
        if item.execution_id in self._known or item.execution_id in self.running:
            return False
        self._known.add(item.execution_id)
        self._queues[self._priority(item)].append(item)
        return True

    def take_expired(self, now: float) -> list[Waiting[T]]:
        """Jobs that waited longer than the queue timeout, removed from the queue. A job that
        waits for its own group (a notebook's earlier cell) does not expire meanwhile."""
        expired: list[Waiting[T]] = []
        busy = set(self._group_of.values())

        def late(w: Waiting[T]) -> bool:
            return now - w.submitted_at >= self.queue_timeout_s and w.group not in busy

        for queue in self._queues.values():
            keep = deque(w for w in queue if not late(w))
            expired.extend(w for w in queue if late(w))
            queue.clear()
            queue.extend(keep)
        for item in expired:
            self._known.discard(item.execution_id)
        self.expired += len(expired)
        return expired

    def next(self, placeable: Callable[[Waiting[T]], bool] = lambda _: True
             ) -> Waiting[T] | None:
        """The job to release now, or None when the cap is reached or nothing waits that can
        go. ``placeable`` says whether a job has somewhere to run (a runner with its language
        and room); a job that has not, or whose group is busy, is passed over."""
        if len(self.running) >= self.max_concurrent:
            return None
        heads = self._heads(placeable)
        under_cap = {p: [w for w in ws if self.running_by_owner[w.owner] < self.owner_cap]
                     for p, ws in heads.items()}
        item = self._fairest(under_cap) or self._fairest(heads)
        if item is None:
            return None
        self._queues[self._priority(item)].remove(item)
        self._known.discard(item.execution_id)
        self._start(item)
        return item

    def _heads(self, placeable: Callable[[Waiting[T]], bool]) -> dict[int, list[Waiting[T]]]:
        """Per priority, each owner's oldest job that can go now."""
        busy = set(self._group_of.values())
        heads: dict[int, list[Waiting[T]]] = {}
        for priority in PRIORITIES:
            seen: set[str] = set()
            heads[priority] = []
            for w in self._queues[priority]:
                if w.owner not in seen and (w.group is None or w.group not in busy) \
                        and placeable(w):
                    seen.add(w.owner)
                    heads[priority].append(w)
        return heads

    def _fairest(self, heads: dict[int, list[Waiting[T]]]) -> Waiting[T] | None:
        """At the highest priority with a job, the one whose owner runs the fewest (the
        oldest of those: ``heads`` are in queue order and ``min`` keeps the first)."""
        for priority in PRIORITIES:
            if heads[priority]:
                return min(heads[priority], key=lambda w: self.running_by_owner[w.owner])
        return None

    @staticmethod
    def _priority(item: Waiting[T]) -> int:
        return item.priority if item.priority in PRIORITIES else 0

    def _start(self, item: Waiting[T]) -> None:
        self.running.add(item.execution_id)
        self._owner_of[item.execution_id] = item.owner
        self.running_by_owner[item.owner] += 1
        if item.group is not None:
            self._group_of[item.execution_id] = item.group

    def _stop(self, execution_id: str) -> None:
        self.running.discard(execution_id)
        self._group_of.pop(execution_id, None)
        owner = self._owner_of.pop(execution_id, None)
        if owner is not None:
            self.running_by_owner[owner] -= 1
            if self.running_by_owner[owner] <= 0:
                del self.running_by_owner[owner]

    def put_back(self, item: Waiting[T]) -> None:
        """Undo ``next``: the job could not be released after all (no global slot); it goes
        back to the head of its priority."""
        self._stop(item.execution_id)
        self._known.add(item.execution_id)
        self._queues[self._priority(item)].appendleft(item)

    def cancel(self, execution_id: str, now: float) -> Waiting[T] | None:
        """Remove a queued job (stop before it ran). A stop for a job not queued here is
        remembered for the queue timeout: the job may still be on its way from the stream (a
        stop can overtake it), and is then cancelled when it arrives. A job that runs already
        is stopped by its runner; remembering its stop costs nothing."""
        for queue in self._queues.values():
            for item in queue:
                if item.execution_id == execution_id:
                    queue.remove(item)
                    self._known.discard(execution_id)
                    return item
        if execution_id not in self.running:
            self._stopped[execution_id] = now
            self._forget_stops(now)
        return None

    def stopped_on_arrival(self, execution_id: str) -> bool:
        """Whether a stop for this job came before it (the caller ends it ``cancelled``)."""
        return self._stopped.pop(execution_id, None) is not None

    def _forget_stops(self, now: float) -> None:
        """Keep stops for the queue timeout (a job that waited longer expires anyway), and
        ``STOPS_REMEMBERED`` at most."""
        for execution_id, at in list(self._stopped.items()):
            if now - at < self.queue_timeout_s and len(self._stopped) <= STOPS_REMEMBERED:
                break
            del self._stopped[execution_id]

    def completed(self, execution_id: str) -> bool:
        """Free the slot of a finished job; False when it was not running here."""
        if execution_id in self.running:
            self._stop(execution_id)
            return True
        return False

    def waiting(self) -> list[Waiting[T]]:
        return [w for q in self._queues.values() for w in q]

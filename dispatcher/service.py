"""Dispatch decisions, free of I/O: highest priority first, FIFO within one, a concurrency cap
and queue expiry. Jobs of one group (a notebook's cells) run one at a time, in order: a waiting
job whose group has one running is passed over, and the jobs behind it may go first; so is a
job that no runner can take yet (none has its language, or each one that could is full).

The bus feeds jobs in as they arrive and asks for the next one to release whenever a slot may
be free; completions free slots.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.subjects import PRIORITIES

T = TypeVar("T")


@dataclass
class Waiting(Generic[T]):
    execution_id: str
    priority: int
    submitted_at: float
    handle: T
    group: str | None = None


class DispatchQueue(Generic[T]):
    def __init__(self, max_concurrent: int, queue_timeout_s: float) -> None:
        self.max_concurrent = max_concurrent
        self.queue_timeout_s = queue_timeout_s
        self._queues: dict[int, deque[Waiting[T]]] = {p: deque() for p in PRIORITIES}
        self._known: set[str] = set()
        self.running: set[str] = set()
        self._group_of: dict[str, str] = {}
        """Running execution → its group; a group is busy while one of its jobs runs."""
        self.expired = 0

    def depth(self) -> dict[int, int]:
        return {p: len(q) for p, q in self._queues.items()}

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def add(self, item: Waiting[T]) -> bool:
        """Queue a job; False for a duplicate of one already queued or running."""
        if item.execution_id in self._known or item.execution_id in self.running:
            return False
        self._known.add(item.execution_id)
        self._queues[item.priority if item.priority in self._queues else 0].append(item)
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
        busy = set(self._group_of.values())
        for priority in PRIORITIES:
            queue = self._queues[priority]
            item = next((w for w in queue if (w.group is None or w.group not in busy)
                         and placeable(w)), None)
            if item is not None:
                queue.remove(item)
                self._known.discard(item.execution_id)
                self.running.add(item.execution_id)
                if item.group is not None:
                    self._group_of[item.execution_id] = item.group
                return item
        return None

    def put_back(self, item: Waiting[T]) -> None:
        """Undo ``next``: the job could not be released after all (no global slot); it goes
        back to the head of its priority."""
        self.running.discard(item.execution_id)
        self._group_of.pop(item.execution_id, None)
        self._known.add(item.execution_id)
        self._queues[item.priority if item.priority in self._queues else 0].appendleft(item)

    def cancel(self, execution_id: str) -> Waiting[T] | None:
        """Remove a queued job (stop before it ran)."""
        for queue in self._queues.values():
            for item in queue:
                if item.execution_id == execution_id:
                    queue.remove(item)
                    self._known.discard(execution_id)
                    return item
        return None

    def completed(self, execution_id: str) -> bool:
        """Free the slot of a finished job; False when it was not running here."""
        if execution_id in self.running:
            self.running.discard(execution_id)
            self._group_of.pop(execution_id, None)
            return True
        return False

    def waiting(self) -> list[Waiting[T]]:
        return [w for q in self._queues.values() for w in q]

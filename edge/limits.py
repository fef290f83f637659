"""The HTTP API's per-key rate limit and quota of unfinished executions (``ApiKeyLimits``),
shared by every edge: their state is in the ``limits`` KV bucket and changed with
compare-and-set (``LimitStore``, which ``edge.limits_bucket.LimitsBucket`` implements), the
next state computed by ``edge.auth``.

An execution leaves its key's quota when it completes: the edge that admitted it removes it
(the others cannot tell whose it is without a lookup). When a key has no room left, the edge
first forgets the key's executions whose completion is stored, and those admitted a while ago
that have no record (never submitted), so that an edge that died or missed a completion holds
no place for ever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol, TypeVar

from contracts.messages import CompletionEvent, ExecutionRecord
from contracts.subjects import quota_key, rate_key
from edge.auth import TokenBucket, Unfinished, admit, forget, spend

T = TypeVar("T", TokenBucket, Unfinished)
R = TypeVar("R")
UNSUBMITTED_AFTER_S = 60.0
"""An execution admitted this long ago whose record does not exist was never submitted (its
edge failed between admitting and submitting it, or its submission was refused)."""
MINE_MAX = 100_000


class LimitStore(Protocol):
    async def read_limit(self, key: str, kind: type[T]) -> T | None: ...

    async def change_limit(self, key: str, kind: type[T],
                           change: Callable[[T | None], tuple[T | None, R]]) -> R:
        """Store what ``change`` makes of the stored value (None: there is none), unless it
        makes None; if another edge changed the value meanwhile, read and apply it again.
        Returns ``change``'s second value. Raises ``NotReady`` when the store is unreachable."""
        ...


class ApiKeyLimits:
    def __init__(self, store: LimitStore,
                 completion: Callable[[str], Awaitable[CompletionEvent | None]],
                 record: Callable[[str], Awaitable[ExecutionRecord | None]],
                 per_minute: int, max_unfinished: int,
                 clock: Callable[[], float] = time.time) -> None:
        """``completion`` and ``record`` look up an execution's stored completion and record
        (to find the executions of a key that are gone)."""
        self.store = store
        self.completion = completion
        self.record = record
        self.per_minute = per_minute
        self.max_unfinished = max_unfinished
        self.clock = clock
        self._mine: dict[str, str] = {}  # executions this edge admitted → their key's name

    async def take(self, name: str, cost: int = 1) -> float:
        """Spend ``cost`` tokens of the key's rate limit: 0 when allowed, else the seconds
        until it would be."""
        now = self.clock()
        return await self.store.change_limit(
            rate_key(name), TokenBucket, lambda bucket: spend(bucket, self.per_minute, now, cost))

    async def admit(self, name: str, execution_id: str) -> bool:
        """Count ``execution_id`` against the key's quota, if it has room."""
        if await self._admit(name, execution_id, ()):
            return True
        gone = await self.gone(name)
        return bool(gone) and await self._admit(name, execution_id, gone)

    async def _admit(self, name: str, execution_id: str, gone: Collection[str]) -> bool:
        now = self.clock()

        def change(unfinished: Unfinished | None) -> tuple[Unfinished | None, bool]:
            admitted = admit(unfinished, self.max_unfinished, execution_id, now, gone)
            return admitted, admitted is not None

        if not await self.store.change_limit(quota_key(name), Unfinished, change):
            return False
        for execution in gone:
            self._mine.pop(execution, None)
        if len(self._mine) >= MINE_MAX:  # completions missed for ever: forget the oldest
            del self._mine[next(iter(self._mine))]
        self._mine[execution_id] = name
        return True

    async def gone(self, name: str) -> set[str]:
        """The key's counted executions that completed or were never submitted."""
        return await self._gone_of(await self.store.read_limit(quota_key(name), Unfinished))

    async def unfinished(self, name: str) -> list[str]:
        """The key's counted executions that are not gone (one read of its quota)."""
        counted = await self.store.read_limit(quota_key(name), Unfinished)
        gone = await self._gone_of(counted)
        return sorted(set(counted.since if counted else ()) - gone)

    async def _gone_of(self, unfinished: Unfinished | None) -> set[str]:
        if unfinished is None:
            return set()
        now = self.clock()
        since = list(unfinished.since.items())
        found = await asyncio.gather(*(self._gone(i, t, now) for i, t in since))
        return {execution_id for (execution_id, _), is_gone
                in zip(since, found, strict=True) if is_gone}

    async def _gone(self, execution_id: str, since: float, now: float) -> bool:
        if await self.completion(execution_id) is not None:
            return True
        return (now - since > UNSUBMITTED_AFTER_S
                and await self.record(execution_id) is None)

    def admitted_here(self, execution_id: str) -> bool:
        return execution_id in self._mine

    async def release(self, execution_id: str) -> None:
        """An execution this edge admitted completed, or was not submitted after all."""
        name = self._mine.pop(execution_id, None)
        if name is None:
            return

        def change(unfinished: Unfinished | None) -> tuple[Unfinished | None, None]:
            return forget(unfinished, (execution_id,)), None

        await self.store.change_limit(quota_key(name), Unfinished, change)

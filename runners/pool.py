"""Warm pools of never-used sandboxes per language, and containers kept for their owner's reuse.

A container that ran one owner's code is never given to another owner: it goes back only to the
reuse slot of that owner and console tab, once the agent's reset put it back in the state of a
fresh sandbox and checked it (every leftover process killed, every writable mount, IPC object,
limit and scheduling as in a fresh one), or it is destroyed (and counted in ``discarded``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from contracts.messages import PoolInfo
from contracts.runtimes import Runtime
from runners.sandbox import EngineUnavailable, Sandbox

log = logging.getLogger(__name__)

Create = Callable[[Runtime], Awaitable[Sandbox]]
Destroy = Callable[[Sandbox], Awaitable[None]]
MAX_BACKOFF_S = 30.0
REFILL_WORKERS = 2
"""Containers created at once per pool: Docker overlaps two creations well on two cores."""
CHECK_EVERY_S = 1.0
"""How often a full pool looks for sandboxes that died (a Docker engine restart kills them)."""
ENGINE_WAIT_S = 60.0
"""How long a run waits for its sandbox while the Docker engine does not answer (restarting)."""


class WarmUpTurns:
    """Turns for background creations shared by pools: ``at_once`` at a time, each free turn to
    the waiting pool of lowest rank (``WarmPool.rank``: a pool a job took from, then every
    empty pool, then pools with one warm sandbox…), ties in the order asked.

    A runner's pools share one (``POOL_CREATIONS_AT_ONCE``, 3): without it, 31 languages' pools
    started 62 creations at once, and a job that found no warm sandbox made its own behind them
    (for Docker and for the few threads of ``asyncio.to_thread``): 6.5 to 8 s for the first run
    after ``coderunner up``. A job's own creation takes no turn.
    """

    def __init__(self, at_once: int) -> None:
        self._free = at_once
        self._waiting: dict[asyncio.Future[None], Callable[[], int]] = {}
        """Each waiter's rank, read when a turn is free; in the order asked."""

    @contextlib.asynccontextmanager
    async def turn(self, rank: Callable[[], int]) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            given: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting[given] = rank
            try:
                await given
            except asyncio.CancelledError:
                self._waiting.pop(given, None)
                if not given.cancelled():
                    self._pass_on()  # the turn was given as the waiter was cancelled: hand it on
                raise
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        ranks = self._waiting
        while ranks:
            given = min(ranks, key=lambda waiter: ranks[waiter]())  # the first of equal ranks
            del ranks[given]
            if not given.done():  # done: cancelled, its waiter not yet run to leave
                given.set_result(None)
                return
        self._free += 1


class WarmPool:
    """Started, never-used sandboxes of one language, refilled in the background."""

    def __init__(self, runtime: Runtime, size: int, create: Create, destroy: Destroy,
                 name: str | None = None, turns: WarmUpTurns | None = None) -> None:
        self.runtime = runtime
        self.name = name or runtime.name
        """What its logs call it (the language; notebook kernels' pool says so)."""
        self.size = size
        self._create = create
        self._destroy = destroy
        self._turns = turns or WarmUpTurns(REFILL_WORKERS)
        """Shared with the runner's other pools; a pool of its own without one."""
        self._ready: deque[Sandbox] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._creating = 0
        """Creations asked for (waiting for a turn or under way): the pool is full counting them."""
        self._making = 0
        """Creations under way."""
        self._wanted = False
        """A job took from the pool and it is not full since: its refill goes first."""
        self.failures = 0
        self.cold_starts = 0
        self.created = 0
        self.create_ms: deque[float] = deque(maxlen=50)
        """How long the latest creations took (container create, start and agent ready)."""

    @property
    def ready(self) -> int:
        """Warm sandboxes whose agent still answers."""
        return sum(1 for sandbox in self._ready if not sandbox.link.closed)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._refill(), name=f"pool-{self.name}-{n}")
            for n in range(REFILL_WORKERS)
        ]

    async def take(self) -> Sandbox:
        """A fresh sandbox: a warm one when there is one, else one made now."""
        sandbox = await self.take_warm()
        if sandbox is not None:
            return sandbox
        self.cold_starts += 1
        deadline = time.monotonic() + ENGINE_WAIT_S
        while True:
            try:
                return await self._timed_create()
            except EngineUnavailable:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)

    async def take_warm(self) -> Sandbox | None:
        """A warm sandbox whose agent still answers, or None: never makes one (the caller
        starts its own, its own way); the pool refills either way, before the pools no job
        took from."""
        self._wake.set()
        self._wanted = True
        while self._ready:
            sandbox = self._ready.popleft()
            if not sandbox.link.closed:
                return sandbox
            await self._destroy(sandbox)
        return None

    def rank(self) -> int:
        """Its place for the next background creation (see ``WarmUpTurns``): -1 while wanted,
        else the sandboxes it has and is making."""
        return -1 if self._wanted else len(self._ready) + self._making

    async def _timed_create(self) -> Sandbox:
        started = time.monotonic()
        sandbox = await self._create(self.runtime)
        self.created += 1
        self.create_ms.append((time.monotonic() - started) * 1000)
        return sandbox

    async def _refill(self) -> None:
        """Keep the pool full; never ends on an error (the engine restarting, say)."""
        backoff = 0.5
        while True:
            try:
                await self._drop_dead()
                if len(self._ready) + self._creating >= self.size:
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(CHECK_EVERY_S):
                            await self._wake.wait()
                    continue
                await self._add_one()
                backoff = 0.5
            except Exception as exc:
                self.failures += 1
                log.warning("warm pool %s: %s; retrying in %.1f s", self.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _add_one(self) -> None:
        self._creating += 1
        try:
            async with self._turns.turn(self.rank):
                self._making += 1
                try:
                    self._ready.append(await self._timed_create())
                    self._wanted = self._wanted and len(self._ready) < self.size
                finally:
                    self._making -= 1
        finally:
            self._creating -= 1

    async def _drop_dead(self) -> None:
        """Remove warm sandboxes whose container died (their agent link closed)."""
        dead = [sandbox for sandbox in self._ready if sandbox.link.closed]
        for sandbox in dead:
            self._ready.remove(sandbox)
        for sandbox in dead:
            await self._destroy(sandbox)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._ready:
            await self._destroy(self._ready.popleft())


def pool_info(pool: WarmPool) -> PoolInfo:
    times = sorted(pool.create_ms)
    p50 = times[len(times) // 2] if times else 0.0
    return PoolInfo(warm=pool.ready, target=pool.size, created=pool.created,
                    create_ms_p50=round(p50, 1))


class ReuseSlots:
    """Idle containers kept for one owner's console tab; expire after ``ttl_s`` unused."""

    def __init__(self, ttl_s: float, destroy: Destroy) -> None:
        self.ttl_s = ttl_s
        self._destroy = destroy
        self._idle: dict[tuple[str, str], Sandbox] = {}
        self._recycling: dict[tuple[str, str], asyncio.Event] = {}
        self.discarded = 0
        """Sandboxes destroyed because their reset failed or its check found them unclean."""

    def __len__(self) -> int:
        return len(self._idle)

    async def take(self, owner: str, key: str, language: str) -> Sandbox | None:
        """The owner's parked sandbox for this slot, waiting for a reset still under way."""
        recycling = self._recycling.get((owner, key))
        if recycling is not None:
            await recycling.wait()
        sandbox = self._idle.get((owner, key))
        if sandbox is None or sandbox.language != language or sandbox.link.closed:
            return None
        del self._idle[(owner, key)]
        return sandbox

    def recycle(
        self, owner: str, key: str, sandbox: Sandbox, reset: Callable[[Sandbox], Awaitable[bool]]
    ) -> Coroutine[Any, Any, None]:
        """Reset a used sandbox and park it; from this call on, a run for the same slot waits
        for the reset instead of taking a fresh container."""
        done = asyncio.Event()
        self._recycling[(owner, key)] = done
        return self._recycle(owner, key, sandbox, reset, done)

    async def _recycle(
        self, owner: str, key: str, sandbox: Sandbox,
        reset: Callable[[Sandbox], Awaitable[bool]], done: asyncio.Event,
    ) -> None:
        try:
            if await reset(sandbox):
                await self.keep(owner, key, sandbox)
            else:
                self.discarded += 1
                await self._destroy(sandbox)
        finally:
            if self._recycling.get((owner, key)) is done:
                del self._recycling[(owner, key)]
            done.set()

    async def keep(self, owner: str, key: str, sandbox: Sandbox) -> None:
        """Park a wiped sandbox for its owner; an older one in the same slot is destroyed."""
        sandbox.last_used = time.monotonic()
        previous = self._idle.pop((owner, key), None)
        self._idle[(owner, key)] = sandbox
        if previous is not None:
            await self._destroy(previous)

    def owned(self, owner: str) -> list[tuple[str, Sandbox]]:
        """The owner's parked sandboxes, by slot."""
        return [(key, s) for (o, key), s in self._idle.items() if o == owner]

    async def settled(self, owner: str) -> list[tuple[str, Sandbox]]:
        """The owner's parked sandboxes once the resets under way of its slots are done."""
        for (o, _), recycling in list(self._recycling.items()):
            if o == owner:
                await recycling.wait()
        return self.owned(owner)

    async def drop_owner(self, owner: str) -> list[tuple[str, Sandbox]]:
        """Destroy the owner's parked sandboxes, after the resets under way of its slots."""
        dropped = await self.settled(owner)
        for key, sandbox in dropped:
            del self._idle[(owner, key)]
            await self._destroy(sandbox)
        return dropped

    async def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        stale = [k for k, s in self._idle.items() if now - s.last_used >= self.ttl_s]
        for key in stale:
            await self._destroy(self._idle.pop(key))
        return len(stale)

    async def close(self) -> None:
        while self._idle:
            _, sandbox = self._idle.popitem()
            await self._destroy(sandbox)

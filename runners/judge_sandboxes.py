"""A judgement's sandboxes from a runner's warm pools and its owner's reuse slot
(``runners.judge_seat.SandboxSource``), so runners/judge.py needs nothing of the runner."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from contracts.messages import Isolation
from contracts.runtimes import Runtime
from runners.pool import ReuseSlots, WarmPool
from runners.sandbox import Sandbox

RESET_WITHIN_S = 2.0
"""How long a used sandbox has to be reset before it is taken away (the runner's rule)."""


@dataclass
class OwnerSandboxes:
    owner: str
    reuse_key: str | None
    isolation: Isolation
    pool_for: Callable[[Runtime], WarmPool]
    reuse: ReuseSlots
    fitted: Callable[[Sandbox, Runtime, int, int], Awaitable[Sandbox]]
    destroy: Callable[[Sandbox], Coroutine[Any, Any, None]]
    reset: Callable[[Sandbox, float], Awaitable[bool]]
    take_away_now: Callable[[Sandbox], Awaitable[None]]
    background: Callable[[Coroutine[Any, Any, None]], None]

    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        if owners_slot and self.reuse_key:
            kept = await self.reuse.take(self.owner, self.reuse_key, runtime.name)
            if kept is not None and (kept.network, kept.isolation) == (None, self.isolation):
                return kept
            if kept is not None:  # on a session network, or of another isolation
                await self.destroy(kept)
        return await self.pool_for(runtime).take()

    async def fit(self, sandbox: Sandbox, runtime: Runtime, memory_mb: int,
                  processes: int) -> Sandbox:
        return await self.fitted(sandbox, runtime, memory_mb, processes)

    def give_back(self, sandbox: Sandbox, owners_slot: bool) -> None:
        if owners_slot and self.reuse_key:
            reset_by = time.monotonic() + RESET_WITHIN_S
            self.background(self.reuse.recycle(
                self.owner, self.reuse_key, sandbox, lambda kept: self.reset(kept, reset_by)))
        else:
            self.background(self.destroy(sandbox))

    async def take_away(self, sandbox: Sandbox) -> None:
        await self.take_away_now(sandbox)

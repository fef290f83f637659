"""Warm-up turns: a runner's pools create a few sandboxes at a time, the pools jobs take from
first, then every pool's first sandbox before any pool's second."""

from __future__ import annotations

import asyncio

import pytest

from contracts.runtimes import Runtime
from runners.pool import WarmPool, WarmUpTurns
from runners.sandbox import Sandbox
from tests.unit.runners.test_pool import FakeLink, settle


def runtime(name: str) -> Runtime:
    return Runtime(name=name, display_name=name, extension=f".{name}", image=name, run=["x"])


class SlowDocker:
    """Creations that end only when the test lets them: ``finish`` one at a time."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.under_way: list[asyncio.Future[None]] = []
        self.most_at_once = 0

    async def create(self, runtime: Runtime) -> Sandbox:
        self.started.append(runtime.name)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.under_way.append(done)
        self.most_at_once = max(self.most_at_once, len(self.under_way))
        try:
            await done
        finally:
            self.under_way.remove(done)
        return Sandbox(f"c{len(self.started)}", runtime.name, FakeLink(), 256, 64)  # type: ignore[arg-type]

    async def destroy(self, sandbox: Sandbox) -> None:
        pass

    async def finish_all(self, creations: int) -> None:
        for _ in range(creations):
            await settle()
            self.under_way[0].set_result(None)
        await settle()


def pools(docker: SlowDocker, turns: WarmUpTurns, names: str, size: int = 2) -> list[WarmPool]:
    made = [WarmPool(runtime(name), size, docker.create, docker.destroy, turns=turns)
            for name in names]
    for pool in made:
        pool.start()
    return made


async def close(made: list[WarmPool]) -> None:
    for pool in made:
        await pool.close()


async def test_pools_sharing_turns_create_at_most_that_many_at_once() -> None:
    docker = SlowDocker()
    made = pools(docker, WarmUpTurns(2), "abcd")
    await settle()
    assert len(docker.under_way) == 2
    await docker.finish_all(8)
    assert docker.most_at_once == 2 and sum(pool.ready for pool in made) == 8
    await close(made)


async def test_every_pool_gets_its_first_sandbox_before_any_its_second() -> None:
    docker = SlowDocker()
    made = pools(docker, WarmUpTurns(1), "abc")
    await docker.finish_all(6)
    assert docker.started == ["a", "b", "c", "a", "b", "c"]
    await close(made)


async def test_a_pool_a_job_took_from_refills_before_the_others() -> None:
    docker = SlowDocker()
    made = pools(docker, WarmUpTurns(1), "abc", size=1)
    await settle()
    assert docker.started == ["a"]  # b and c wait for the turn
    assert await made[2].take_warm() is None  # a job finds c empty (and makes its own)
    await docker.finish_all(3)
    assert docker.started == ["a", "c", "b"]
    await close(made)


class Creations:
    """Creations taking ``turns``: who entered, in order; two inside at once fail."""

    def __init__(self, turns: WarmUpTurns) -> None:
        self.turns = turns
        self.entered: list[str] = []
        self.inside = 0

    async def create(self, name: str) -> None:
        async with self.turns.turn(lambda: 0):
            self.entered.append(name)
            self.inside += 1
            assert self.inside == 1, "two creations at once"
            await asyncio.sleep(0.01)
            self.inside -= 1


async def test_a_waiter_cancelled_as_its_turn_came_hands_the_turn_on() -> None:
    turns = WarmUpTurns(1)
    creations = Creations(turns)
    async with turns.turn(lambda: 0):
        second, third = (asyncio.create_task(creations.create(n)) for n in ("second", "third"))
        await settle()
    second.cancel()  # given the turn as the block ended, not yet run
    await settle()
    assert creations.entered == ["third"]
    with pytest.raises(asyncio.CancelledError):
        await second
    await third
    async with asyncio.timeout(1):  # the turn is free again
        await creations.create("fourth")


async def test_a_waiter_cancelled_before_a_turn_frees_neither_breaks_nor_adds_a_turn() -> None:
    turns = WarmUpTurns(1)
    creations = Creations(turns)
    async with turns.turn(lambda: 0):
        cancelled = asyncio.create_task(creations.create("cancelled"))
        await settle()
        cancelled.cancel()  # its wait ends cancelled; it runs again only after this block
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with asyncio.timeout(1):
        await asyncio.gather(creations.create("a"), creations.create("b"))
    assert creations.entered == ["a", "b"]

"""Warm pools and reuse slots, with an in-memory fake in place of Docker."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from contracts.runtimes import Runtime
from runners.pool import ReuseSlots, WarmPool
from runners.sandbox import EngineUnavailable, Sandbox, SandboxError

RUNTIME = Runtime(name="python", display_name="P", extension=".py", image="python", run=["x"])


class FakeLink:
    closed = False


class FakeDocker:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.error: Exception | None = None
        """Raised by ``create`` while set: what a Docker engine that is down gives."""
        self.ids = itertools.count()
        self.created: list[str] = []
        self.destroyed: list[str] = []

    async def create(self, runtime: Runtime) -> Sandbox:
        await asyncio.sleep(0)
        if self.fail:
            raise SandboxError("no engine")
        if self.error is not None:
            raise self.error
        sandbox = Sandbox(f"c{next(self.ids)}", runtime.name, FakeLink(), 256, 64)  # type: ignore[arg-type]
        self.created.append(sandbox.container_id)
        return sandbox

    async def destroy(self, sandbox: Sandbox) -> None:
        self.destroyed.append(sandbox.container_id)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_pool_fills_in_the_background_and_refills_after_a_take() -> None:
    docker = FakeDocker()
    pool = WarmPool(RUNTIME, 3, docker.create, docker.destroy)
    pool.start()
    await settle()
    assert pool.ready == 3
    taken = await pool.take()
    assert taken.container_id in docker.created and pool.cold_starts == 0
    await settle()
    assert pool.ready == 3 and len(docker.created) == 4
    await pool.close()
    assert sorted(docker.destroyed) == sorted(set(docker.created) - {taken.container_id})


async def test_an_empty_pool_makes_one_at_once() -> None:
    docker = FakeDocker()
    pool = WarmPool(RUNTIME, 0, docker.create, docker.destroy)
    sandbox = await pool.take()
    assert sandbox.container_id == "c0" and pool.cold_starts == 1


async def test_take_warm_hands_out_only_a_warm_one_and_refills() -> None:
    docker = FakeDocker()
    pool = WarmPool(RUNTIME, 1, docker.create, docker.destroy, name="kernels")
    assert await pool.take_warm() is None and docker.created == []
    pool.start()
    await settle()
    dead = pool._ready[0]
    dead.link.closed = True  # type: ignore[misc]
    assert await pool.take_warm() is None and docker.destroyed == [dead.container_id]
    await settle()
    warm = await pool.take_warm()
    assert warm is not None and warm.container_id == "c1" and pool.cold_starts == 0
    await settle()
    assert pool.ready == 1  # refilled after the take
    await pool.close()


async def test_a_dead_warm_sandbox_is_destroyed_not_handed_out() -> None:
    docker = FakeDocker()
    pool = WarmPool(RUNTIME, 1, docker.create, docker.destroy)
    pool.start()
    await settle()
    dead = pool._ready[0]
    dead.link.closed = True  # type: ignore[misc]
    fresh = await pool.take()
    assert fresh is not dead and docker.destroyed == [dead.container_id]
    await pool.close()


async def test_creation_failures_back_off_instead_of_looping() -> None:
    docker = FakeDocker(fail=True)
    pool = WarmPool(RUNTIME, 2, docker.create, docker.destroy)
    pool.start()
    await asyncio.sleep(0.3)
    assert 1 <= pool.failures <= 2, "one attempt per refill worker, then a 0.5 s pause"
    await pool.close()


async def test_a_refill_worker_survives_any_error_and_fills_once_docker_answers() -> None:
    docker = FakeDocker()
    docker.error = ConnectionError("the engine's socket is gone")  # not a SandboxError
    pool = WarmPool(RUNTIME, 1, docker.create, docker.destroy)
    pool.start()
    await asyncio.sleep(0.1)
    assert pool.failures >= 1 and pool.ready == 0
    assert not any(task.done() for task in pool._tasks)
    docker.error = None
    await asyncio.sleep(1.2)  # the 0.5 s back-off, then a creation
    assert pool.ready == 1
    await pool.close()


async def test_a_warm_sandbox_that_died_is_not_counted_and_is_replaced() -> None:
    docker = FakeDocker()
    pool = WarmPool(RUNTIME, 1, docker.create, docker.destroy)
    pool.start()
    await settle()
    dead = pool._ready[0]
    dead.link.closed = True  # type: ignore[misc]
    assert pool.ready == 0
    await asyncio.sleep(1.2)  # a full pool looks for the dead every second, without a take
    assert docker.destroyed == [dead.container_id] and pool.ready == 1
    await pool.close()


async def test_a_take_waits_for_an_engine_that_does_not_answer() -> None:
    docker = FakeDocker()
    docker.error = EngineUnavailable("restarting")
    pool = WarmPool(RUNTIME, 0, docker.create, docker.destroy)
    taking = asyncio.create_task(pool.take())
    await asyncio.sleep(0.1)
    assert not taking.done()
    docker.error = None
    sandbox = await asyncio.wait_for(taking, 5)
    assert sandbox.container_id == "c0"


async def test_a_take_fails_at_once_on_another_sandbox_error() -> None:
    docker = FakeDocker(fail=True)
    pool = WarmPool(RUNTIME, 0, docker.create, docker.destroy)
    with pytest.raises(SandboxError):
        await pool.take()


def sandbox(cid: str) -> Sandbox:
    return Sandbox(cid, "python", FakeLink(), 256, 64)  # type: ignore[arg-type]


async def test_a_parked_sandbox_goes_back_only_to_its_owner_and_tab() -> None:
    docker = FakeDocker()
    slots = ReuseSlots(60, docker.destroy)
    await slots.keep("session:a", "main.py", sandbox("c1"))
    assert await slots.take("session:b", "main.py", "python") is None
    assert await slots.take("session:a", "other.py", "python") is None
    assert await slots.take("session:a", "main.py", "java") is None
    kept = await slots.take("session:a", "main.py", "python")
    assert kept is not None and kept.container_id == "c1"
    assert await slots.take("session:a", "main.py", "python") is None


async def test_a_take_waits_for_the_reset_under_way() -> None:
    docker = FakeDocker()
    slots = ReuseSlots(60, docker.destroy)
    release = asyncio.Event()

    async def slow_reset(_: Any) -> bool:
        await release.wait()
        return True

    recycling = asyncio.create_task(slots.recycle("o", "k", sandbox("c1"), slow_reset))
    taking = asyncio.create_task(slots.take("o", "k", "python"))
    await settle()
    assert not taking.done()
    release.set()
    await recycling
    kept = await taking
    assert kept is not None and kept.container_id == "c1"


async def test_a_failed_reset_destroys_the_sandbox_and_counts_it() -> None:
    docker = FakeDocker()
    slots = ReuseSlots(60, docker.destroy)

    async def failing_reset(_: Any) -> bool:
        return False

    await slots.recycle("o", "k", sandbox("c1"), failing_reset)
    assert docker.destroyed == ["c1"] and len(slots) == 0
    assert slots.discarded == 1
    assert await slots.take("o", "k", "python") is None


async def test_idle_sandboxes_expire_after_the_ttl() -> None:
    docker = FakeDocker()
    slots = ReuseSlots(60, docker.destroy)
    await slots.keep("o", "k", sandbox("c1"))
    kept = slots._idle[("o", "k")]
    assert await slots.expire(now=kept.last_used + 59) == 0
    assert await slots.expire(now=kept.last_used + 60) == 1
    assert docker.destroyed == ["c1"]

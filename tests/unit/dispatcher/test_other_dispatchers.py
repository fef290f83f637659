"""Two dispatchers see each other's releases (dispatcher/fleet.py ``released_by_another``,
dispatcher/loop.py ``_slot_taken``): each hears every slot taken, and counts another's job on
its runner at once, until the job's completion; the runner's heartbeat counts each job once.
Before, another's jobs counted only from the runner's heartbeats (up to 3 s old), and two
dispatchers both gave runners their last slots (the fleet bench's ``overCapacity``)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from contracts.messages import CompletionEvent, PoolInfo, ProgramJob, RunnerInfo, encode
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.fleet import THEIRS_KEPT_S, Fleet
from dispatcher.loop import Dispatcher


def info(runner_id: str, capacity: int = 3, active: int = 0) -> RunnerInfo:
    return RunnerInfo(runner_id, {"python": "3"}, active, capacity,
                      pools={"python": PoolInfo(warm=0)})


def free(fleet: Fleet, runner_id: str = "a") -> int:
    return fleet.runners[runner_id].free_slots()


def test_another_dispatchers_job_counts_once_from_its_release_to_its_completion() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a", active=0), 0.0)
    fleet.released_by_another("e1", "a", 1.0)
    assert free(fleet) == 2
    fleet.heartbeat(info("a", active=1), 3.0)  # the runner runs it: still one job
    assert free(fleet) == 2
    fleet.completed("e1")
    assert free(fleet) == 3


def test_a_job_reported_that_no_dispatcher_heard_of_counts_until_the_next_heartbeat() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.released_by_another("e1", "a", 1.0)
    fleet.heartbeat(info("a", active=2), 3.0)  # e1 and one this dispatcher never heard of
    assert free(fleet) == 1
    fleet.completed("e1")
    assert free(fleet) == 2


def test_its_own_releases_heard_back_are_not_counted_twice() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.sent("a", "e1", "python")
    fleet.released_by_another("e1", "a", 1.0)
    assert free(fleet) == 2
    fleet.completed("e1")
    fleet.released_by_another("e1", "a", 1.0)  # heard after its completion
    assert free(fleet) == 3


def test_a_release_heard_after_its_completion_is_not_counted() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.completed("e1")
    fleet.released_by_another("e1", "a", 1.0)
    assert free(fleet) == 3


def test_a_job_given_again_elsewhere_counts_on_its_new_runner_only() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.heartbeat(info("b"), 0.0)
    fleet.released_by_another("e1", "a", 1.0)
    fleet.released_by_another("e1", "b", 2.0)  # moved off a, given to b
    assert (free(fleet, "a"), free(fleet, "b")) == (3, 2)
    fleet.released_by_another("e2", "c", 2.0)  # a runner this dispatcher never heard of
    fleet.completed("e1")
    assert (free(fleet, "a"), free(fleet, "b")) == (3, 3)


def test_a_job_whose_completion_was_missed_counts_from_heartbeats_after_a_while() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.released_by_another("e1", "a", 1.0)
    fleet.heartbeat(info("a", active=0), 1.0 + THEIRS_KEPT_S / 2)
    assert free(fleet) == 2
    fleet.heartbeat(info("a", active=0), 2.0 + THEIRS_KEPT_S)
    assert free(fleet) == 3


def test_a_job_heard_as_anothers_then_sent_by_this_dispatcher_counts_once() -> None:
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.released_by_another("e1", "a", 1.0)  # its slot was heard before this one sent it
    fleet.sent("a", "e1", "python")
    assert free(fleet) == 2


class Msg:
    def __init__(self, execution_id: str) -> None:
        self.data = encode(ProgramJob(execution_id=execution_id, owner=f"key:{execution_id}",
                                      priority=2, submitted_at=0.0, language="python",
                                      main_file="main.py", files=[]))
        self.headers: dict[str, str] = {}

    async def ack(self) -> None:
        pass


class Bus:
    slots_capped = False

    def __init__(self) -> None:
        self.released: list[tuple[str, str]] = []

    async def take_slot(self, execution_id: str, runner: str) -> bool:
        return True

    async def release(self, job: Any, data: bytes, runner: str, *args: Any) -> None:
        self.released.append((job.execution_id, runner))

    async def free_slot(self, execution_id: str) -> None:
        pass

    async def ensure_runner_consumer(self, runner: str, capacity: int) -> None:
        pass

    async def grow_queue(self, capacity: int) -> None:
        pass


async def release(dispatcher: Dispatcher) -> None:
    await dispatcher._release_ready()
    await asyncio.gather(*dispatcher._sends)


async def test_a_dispatcher_never_gives_a_runner_more_than_its_capacity() -> None:
    bus = Bus()
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    await dispatcher._heartbeat(info("a", capacity=3), 0.0)
    dispatcher._slot_taken("other1", "a")  # the other dispatcher gave it two jobs
    dispatcher._slot_taken("other2", "a")
    for n in range(3):
        dispatcher._hold(cast(Any, Msg(f"e{n}")), 2)
    await release(dispatcher)
    assert [runner for _, runner in bus.released] == ["a"]
    await dispatcher._completed(CompletionEvent(execution_id="other1", verdict="ok"))
    await release(dispatcher)
    assert [runner for _, runner in bus.released] == ["a", "a"]
    await dispatcher._heartbeat(info("a", capacity=3, active=3), 0.0)  # each job once
    await release(dispatcher)
    assert len(bus.released) == 2



def test_a_runner_a_job_was_given_to_is_known_from_a_release_heard_until_the_completion() -> None:
    """The completion relay asks ``given_to`` first (no JetStream lookup of the job's slot):
    a job this dispatcher released, or one it heard another release, names its runner."""
    fleet = Fleet()
    fleet.heartbeat(info("a"), 0.0)
    fleet.heartbeat(info("b"), 0.0)
    fleet.sent("a", "mine", "python")
    fleet.released_by_another("theirs", "b", 1.0)
    assert (fleet.given_to("mine"), fleet.given_to("theirs")) == ("a", "b")
    fleet.released_by_another("theirs", "a", 2.0)  # moved off b, given to a
    assert fleet.given_to("theirs") == "a"
    fleet.completed("theirs")
    assert fleet.given_to("theirs") is None
    assert fleet.given_to("never heard of") is None

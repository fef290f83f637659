"""The global cap and the queue's capacity follow the runners' slots unless set."""

from __future__ import annotations

from contracts.messages import RunnerInfo
from contracts.settings import DispatcherSettings
from dispatcher.fleet import Fleet
from dispatcher.fleet_limits import DEFAULT_QUEUE_CAPACITY, global_cap, queue_capacity
from dispatcher.service import DispatchQueue, Waiting

UNSET = DispatcherSettings()


def test_the_cap_is_the_sum_of_the_live_runners_slots() -> None:
    fleet = Fleet(silent_s=10)
    fleet.heartbeat(RunnerInfo("a", {"python": "3"}, capacity=50), now=0.0)
    fleet.heartbeat(RunnerInfo("b", {"python": "3"}, capacity=8), now=5.0)
    assert global_cap(UNSET, fleet.slots(now=6.0)) == 58
    assert global_cap(UNSET, fleet.slots(now=12.0)) == 8  # a went silent
    fleet.gone("b")
    assert global_cap(UNSET, fleet.slots(now=12.0)) == 1  # none: nothing runs anyway
    assert global_cap(DispatcherSettings(max_concurrent=20), 58) == 20


def test_the_queue_grows_with_the_fleet_and_never_shrinks() -> None:
    assert queue_capacity(UNSET, 0, 0) == DEFAULT_QUEUE_CAPACITY
    assert queue_capacity(UNSET, 200 * 50, DEFAULT_QUEUE_CAPACITY) == 40_000
    assert queue_capacity(UNSET, 10, 40_000) == 40_000
    assert queue_capacity(DispatcherSettings(queue_capacity=7), 10_000, 40_000) == 7


def test_a_resized_queue_releases_up_to_its_new_cap_and_shares_it_by_owner() -> None:
    queue: DispatchQueue[str] = DispatchQueue(1, 60, owner_share=0.5)
    queue.resize(4)
    assert (queue.max_concurrent, queue.owner_cap) == (4, 2)


def test_resizing_keeps_the_jobs_waiting_and_running() -> None:
    queue: DispatchQueue[str] = DispatchQueue(1, 60)
    for name in ("a", "b"):
        assert queue.add(Waiting(name, 1, 0.0, name, owner=name))
    assert queue.next() is not None
    queue.resize(1)  # a heartbeat with the same slots
    assert (len(queue.running), len(queue), queue.next()) == (1, 1, None)
    queue.resize(2)  # a runner joined
    assert queue.next() is not None

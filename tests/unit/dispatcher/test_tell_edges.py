"""A dispatcher tells the edges at once when a job starts or stops waiting in its queue
(dispatcher/loop.py ``_release_ready``): while one waits, no edge puts jobs straight on seats.
Its state also names the usual image of each language and whether a cap is set."""

from __future__ import annotations

import time
from typing import Any, cast

from contracts.messages import PlacementState, RunnerInfo
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher, Held
from dispatcher.service import Waiting
from tests.unit.dispatcher.test_seat_release import Bus
from tests.unit.dispatcher.test_slot_and_release import JOB, Msg


class TellingBus(Bus):
    def __init__(self, slots_capped: bool = False) -> None:
        super().__init__(slots_capped)
        self.told: list[PlacementState] = []

    async def tell_edges(self, state: PlacementState) -> None:
        self.told.append(state)


async def test_the_edges_hear_at_once_when_a_job_waits_and_when_none_does() -> None:
    bus = TellingBus()
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    dispatcher.queue.add(Waiting(JOB.execution_id, 1, 0.0, Held(cast(Any, Msg()), JOB),
                                 owner=JOB.owner))
    await dispatcher._release_ready()  # no runner yet: it waits
    assert [s.waiting for s in bus.told] == [1]
    await dispatcher._release_ready()  # nothing changed: nothing told
    assert [s.waiting for s in bus.told] == [1]
    dispatcher.fleet.heartbeat(RunnerInfo("r1", {"python": "3"}, capacity=2, at=time.time(),
                                          seats=True, images={"python": "h1"}),
                               time.monotonic())
    await dispatcher._release_ready()
    assert [s.waiting for s in bus.told] == [1, 0]
    assert bus.told[-1].usual_images == {"python": "h1"} and not bus.told[-1].capped
    assert bus.told[-1].dispatcher_id == dispatcher.id


async def test_a_capped_dispatcher_says_so() -> None:
    bus = TellingBus(slots_capped=True)
    dispatcher = Dispatcher(DispatcherSettings(max_concurrent=5), cast(DispatcherBus, bus))
    assert dispatcher.placement_state().capped

"""A release that does not go takes back the placement it made (dispatcher/loop.py ``_send``).

The placement of a session or notebook is remembered when its job is decided, before the
job's slot is taken; when the slot is refused or the release fails, a placement kept in memory
would make the owner's next job to that runner skip writing it to the bucket, and another
dispatcher would place the notebook anew, its kernel lost."""

from __future__ import annotations

from typing import Any, cast

import pytest

from contracts.messages import CellJob
from contracts.settings import DispatcherSettings
from dispatcher import loop
from dispatcher.bus import DispatcherBus
from dispatcher.fleet import affinity_of
from dispatcher.loop import Dispatcher, Held
from dispatcher.service import Waiting

CELL = CellJob(execution_id="e1", owner="key:a", priority=0, submitted_at=0.0,
               notebook_id="n1", cell_id="c1", code="1")


class Msg:
    data = b"{}"

    async def ack(self) -> None:
        pass


class Bus:
    """Refuses the first slot (``refuse``) or fails the first release (``fail``)."""

    slots_capped = True
    """Only a capped ``SLOTS`` refuses a slot."""

    def __init__(self, refuse: int = 0, fail: int = 0) -> None:
        self.refuse, self.fail = refuse, fail
        self.placed: list[tuple[str, str]] = []

    async def take_slot(self, execution_id: str, runner: str) -> bool:
        self.refuse -= 1
        return self.refuse < 0

    async def release(self, *args: Any) -> None:
        self.fail -= 1
        if self.fail >= 0:
            raise ConnectionError("NATS went away")

    async def free_slot(self, execution_id: str) -> None:
        pass

    async def place(self, key: str, runner: str) -> None:
        self.placed.append((key, runner))


def waiting() -> Waiting[Held]:
    held = Held(cast(Any, Msg()), CELL, affinity=affinity_of(CELL))
    return Waiting(CELL.execution_id, 0, 0.0, held, owner=CELL.owner)


async def send_twice(bus: Bus, before: str | None) -> Dispatcher:
    """The job decided for runner r2 twice: the first release does not go, the second does.
    A cap is set: only then can a slot be refused."""
    dispatcher = Dispatcher(DispatcherSettings(max_concurrent=10), cast(DispatcherBus, bus))
    item = waiting()
    affinity = item.handle.affinity
    assert affinity is not None
    if before is not None:
        dispatcher.placements[affinity.key] = before
    for _ in range(2):
        earlier = dispatcher.placements.get(affinity.key)
        placed = dispatcher._placed(affinity, "r2")
        await dispatcher._send(item, "r2", placed, earlier)
    return dispatcher


@pytest.mark.parametrize("bus", [Bus(refuse=1), Bus(fail=1)], ids=["refused", "failed"])
async def test_a_release_that_did_not_go_is_placed_when_it_goes(
        bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "RETRY_S", 0)
    dispatcher = await send_twice(bus, before=None)
    key = affinity_of(CELL).key  # type: ignore[union-attr]
    assert bus.placed == [(key, "r2")]
    assert dispatcher.placements == {key: "r2"}


async def test_a_refused_release_gives_back_the_placement_it_replaced() -> None:
    bus = Bus(refuse=2)
    dispatcher = await send_twice(bus, before="r1")
    key = affinity_of(CELL).key  # type: ignore[union-attr]
    assert (dispatcher.placements, bus.placed) == ({key: "r1"}, [])

"""The dispatcher moves what it made while setting up out of the garbage collector's reach
before it serves (``dispatcher.main.freeze_startup_heap``): each full collection then walks
only what came later (run L, docs/benchmarks.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.settings import DispatcherSettings
from dispatcher import main


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_what_was_alive_is_out_of_reach_and_what_comes_later_is_collected() -> None:
    before = Cycle()
    assert main.freeze_startup_heap() > 0
    assert not tracked(before)  # in the permanent generation
    after = Cycle()
    assert tracked(after)
    del after
    assert gc.collect() >= 1  # the later cycle is still collected


async def test_the_dispatcher_freezes_its_heap_before_it_serves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    class Bus:
        async def ensure_streams(self) -> int:
            return 100

        async def close(self) -> None:
            pass

    class Dispatcher:
        def __init__(self, *_: Any) -> None:
            pass

        async def serve(self) -> None:
            seen.append(gc.get_freeze_count())

        async def give_back(self) -> int:
            return 0

    async def connect(_: DispatcherSettings) -> Bus:
        return Bus()

    monkeypatch.setattr(main.DispatcherBus, "connect", connect)
    monkeypatch.setattr(main, "Dispatcher", Dispatcher)
    await main.serve(DispatcherSettings())
    assert seen and seen[0] > 0

"""The content sweep's rules over an in-memory store: only old, unnamed contents go, the age
is checked again before each delete, and a burst of deletes costs at most two sweeps."""

from __future__ import annotations

import asyncio

from edge.workspace_sweep import GRACE_S, ContentSweep


class Store:
    def __init__(self, saved: dict[str, float], named: set[str]) -> None:
        self.saved = saved
        self.named = named
        self.listings = 0
        self.release = asyncio.Event()
        self.release.set()

    async def contents_saved(self) -> dict[str, float]:
        self.listings += 1
        await self.release.wait()
        return dict(self.saved)

    async def named_contents(self) -> set[str]:
        return set(self.named)

    async def delete_content(self, sha256: str, saved_before: float) -> bool:
        if self.saved[sha256] >= saved_before:
            return False
        del self.saved[sha256]
        return True


NOW = 10 * GRACE_S


async def test_only_old_contents_nothing_names_are_deleted() -> None:
    store = Store({"old-unnamed": 0.0, "old-named": 0.0, "new-unnamed": NOW - 1}, {"old-named"})
    assert await ContentSweep(store, clock=lambda: NOW).run() == 1  # type: ignore[arg-type]
    assert set(store.saved) == {"old-named", "new-unnamed"}


async def test_a_content_put_again_since_the_listing_is_kept() -> None:
    store = Store({"a": 0.0}, set())

    async def put_again_meanwhile() -> set[str]:
        store.saved["a"] = NOW  # a save stored it again after the sweep listed it
        return set()

    store.named_contents = put_again_meanwhile  # type: ignore[method-assign]
    assert await ContentSweep(store, clock=lambda: NOW).run() == 0  # type: ignore[arg-type]
    assert "a" in store.saved


async def test_a_burst_of_deletes_costs_two_sweeps() -> None:
    store = Store({"a": 0.0}, set())
    store.release.clear()  # the first sweep waits in its listing
    sweep = ContentSweep(store, clock=lambda: NOW)  # type: ignore[arg-type]
    for _ in range(10):
        sweep.start()
    await asyncio.sleep(0)
    store.release.set()
    while sweep._tasks:
        await asyncio.sleep(0)
    assert store.listings == 2

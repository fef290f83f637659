"""edge/kv_listing.py on fakes: the "end of what was stored" marker may come first (nats-py,
under load); the listing reads every key it counted all the same."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from edge import kv_listing
from edge.kv_listing import kv_entries


class Watcher:
    def __init__(self, updates: list[Any]) -> None:
        self.updates = updates
        self.stopped = False

    def __aiter__(self) -> Watcher:
        return self

    async def __anext__(self) -> Any:
        if not self.updates:
            raise StopAsyncIteration
        return self.updates.pop(0)

    async def stop(self) -> None:
        self.stopped = True


def entry(key: str, value: bytes, operation: str | None = None) -> Any:
    return SimpleNamespace(key=key, value=value, operation=operation)


class KV:
    def __init__(self, updates: list[Any]) -> None:
        self.watcher = Watcher(updates)

    async def watch(self, *args: Any, **kwargs: Any) -> Watcher:
        return self.watcher


class JS:
    def __init__(self, subjects: int) -> None:
        self.subjects = {f"$KV.b.k{i}": 1 for i in range(subjects)}

    async def stream_info(self, name: str, subjects_filter: str) -> Any:
        return SimpleNamespace(state=SimpleNamespace(subjects=self.subjects))


async def test_a_marker_that_comes_first_does_not_end_the_listing() -> None:
    kv = KV([None, entry("k0", b"a"), entry("k1", b"", "DEL"), entry("k2", b"c")])
    found = await kv_entries(cast(Any, JS(3)), "b", cast(Any, kv), "k.>")
    assert found == [("k0", b"a"), ("k2", b"c")]  # the deleted key counted, not listed
    assert kv.watcher.stopped


async def test_no_key_is_no_watch_and_a_key_gone_meanwhile_ends_it_in_time(
        monkeypatch: Any) -> None:
    assert await kv_entries(cast(Any, JS(0)), "b", cast(Any, None), "k.>") == []

    class Stalled(Watcher):
        async def __anext__(self) -> Any:
            if self.updates:
                return self.updates.pop(0)
            await asyncio.sleep(60)

    monkeypatch.setattr(kv_listing, "LISTING_WAIT_S", 0.05)
    kv = KV([])
    kv.watcher = Stalled([None, entry("k0", b"a")])
    assert await kv_entries(cast(Any, JS(2)), "b", cast(Any, kv), "k.>") == [("k0", b"a")]

"""``edge.nats_connection.compare_and_set`` on a real nats-server: writers racing on one key
each get their change in once (none lost, none applied twice), a deleted key starts again from
nothing, and ``None`` writes nothing. The executions bucket and the API keys' limits both
change their entries through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import nats.js.errors
import pytest
from nats.js.kv import KeyValue

from coderunner.nats_server import NatsServer
from edge.nats_connection import compare_and_set

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def kv(nats_alone: NatsServer) -> AsyncIterator[KeyValue]:
    nc = await nats.connect(nats_alone.url)
    try:
        yield await nc.jetstream().create_key_value(bucket="cas")
    finally:
        await nc.close()


def plus_one(value: bytes | None) -> bytes:
    return str(int(value or b"0") + 1).encode()


async def test_racing_writers_each_count_once(kv: KeyValue) -> None:
    changed = await asyncio.gather(*(compare_and_set(kv, "n", plus_one) for _ in range(20)))
    assert changed == [True] * 20
    assert (await kv.get("n")).value == b"20"


async def test_a_deleted_key_starts_from_nothing_and_none_writes_nothing(kv: KeyValue) -> None:
    await kv.put("n", b"7")
    await kv.delete("n")
    assert await compare_and_set(kv, "n", plus_one)
    entry = await kv.get("n")
    assert entry.value == b"1"
    assert await compare_and_set(kv, "n", lambda value: None)
    assert (await kv.get("n")).revision == entry.revision


class CountingLosses:
    """A bucket that counts how many times in a row an update lost to another writer."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.streak = self.longest_streak = 0

    async def get(self, key: str) -> object:
        return await self.kv.get(key)

    async def update(self, key: str, value: bytes, last: int) -> int:
        try:
            revision = await self.kv.update(key, value, last=last)
        except nats.js.errors.KeyWrongLastSequenceError:
            self.streak += 1
            self.longest_streak = max(self.longest_streak, self.streak)
            raise
        self.streak = 0
        return revision


async def test_two_writers_changing_one_key_in_a_loop_do_not_starve_each_other(
    kv: KeyValue, nats_alone: NatsServer,
) -> None:
    """Two edges taking one API key's tokens: each waits for its own change before the next.
    Without a random wait after a lost race they fall into lock-step (the loser reads just
    before the other writes again) and one loses every try until it gives up."""
    other = await nats.connect(nats_alone.url)
    try:
        writers = [CountingLosses(kv), CountingLosses(await other.jetstream().key_value("cas"))]

        async def change_in_a_loop(writer: CountingLosses) -> list[bool]:
            return [await compare_and_set(writer, "n", plus_one)  # type: ignore[arg-type]
                    for _ in range(300)]

        changed = await asyncio.gather(*(change_in_a_loop(w) for w in writers))
        assert changed == [[True] * 300] * 2
        assert (await kv.get("n")).value == b"600"
        assert [w.longest_streak < 20 for w in writers] == [True, True], \
            [w.longest_streak for w in writers]
    finally:
        await other.close()

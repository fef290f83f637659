"""``edge.nats_connection.compare_and_set`` on a real nats-server: writers racing on one key
each get their change in once (none lost, none applied twice), a deleted key starts again from
nothing, and ``None`` writes nothing. The executions bucket and the API keys' limits both
change their entries through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js.kv import KeyValue

from coderunner.nats_server import NatsServer
from edge.nats_connection import compare_and_set

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def kv(tmp_path: Path) -> AsyncIterator[KeyValue]:
    server = NatsServer(tmp_path / "nats", port=0).start()
    nc = await nats.connect(server.url)
    try:
        yield await nc.jetstream().create_key_value(bucket="cas")
    finally:
        await nc.close()
        server.stop()


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

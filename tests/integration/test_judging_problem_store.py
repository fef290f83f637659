"""The stored problems' object store (edge/problem_store.py) on a nats-server of its own: it is
created with its ``max_bytes`` (``PROBLEMS_MAX_BYTES``), and a put past it is ProblemStoreFull
(the route's 507), never a bare JetStream error (a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coderunner.nats_server import NatsServer
from edge.nats_connection import NatsConnection
from edge.problem_store import ProblemStore, ProblemStoreFull

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def connection(nats_alone: NatsServer) -> AsyncIterator[NatsConnection]:
    connection = NatsConnection(nats_alone.url)
    try:
        await connection.connect(once=True)
        yield connection
    finally:
        await connection.close()


async def test_a_problem_past_the_stores_size_is_refused_and_the_store_keeps_working(
        connection: NatsConnection) -> None:
    store = ProblemStore(connection, max_bytes=300_000)
    await store.put_content("a" * 64, b"x" * 100_000)
    with pytest.raises(ProblemStoreFull):
        await store.put_content("b" * 64, b"y" * 400_000)
    await store.put_problem("key:a", "p1", b"{}")

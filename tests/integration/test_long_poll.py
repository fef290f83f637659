"""``dispatcher/long_poll.py`` on a real nats-server: two dispatchers' polls on one queue hand
over each job as it arrives (never waiting for a batch to fill), a request filled to its batch
is followed by another, and a closed poll returns the jobs it held and is sent no more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

from coderunner.nats_server import NatsServer
from dispatcher.long_poll import LongPoll

pytestmark = pytest.mark.timeout(60)
EXPIRES_S = 20.0
"""A request's life: every wait below is far shorter, so a job that waits for a batch to fill
or a request to end fails the test."""
ARRIVES_S = 5.0
STREAM = 2000


@pytest.fixture
async def queue(nats_alone: NatsServer) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    nc = await nats.connect(nats_alone.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="Q", subjects=["q.>"],
                                     retention=RetentionPolicy.WORK_QUEUE))
    await js.add_consumer("Q", ConsumerConfig(durable_name="d", ack_policy=AckPolicy.EXPLICIT,
                                              max_ack_pending=1000))
    try:
        yield nc, js
    finally:
        await nc.close()


async def test_two_polls_hand_over_each_job_as_it_arrives(
        queue: tuple[Client, JetStreamContext], nats_alone: NatsServer) -> None:
    """Jobs one at a time, then a stream of them as two dispatchers see under load: nats-py's
    ``fetch(64)`` held some in a batch until it filled or expired (with this test's 20 s
    expiry, the last ones of the stream for 20 s)."""
    _, js = queue
    connections = [await nats.connect(nats_alone.url) for _ in range(2)]
    polls = [await LongPoll(c, "Q", "d", 64, EXPIRES_S).start() for c in connections]
    taken: asyncio.Queue[bytes] = asyncio.Queue()

    async def dispatcher(poll: LongPoll) -> None:
        while True:
            for msg in await poll.take():
                await msg.ack()
                await taken.put(msg.data)

    loops = [asyncio.create_task(dispatcher(poll)) for poll in polls]
    try:
        for number in range(100):  # one at a time: each must come alone
            await js.publish("q.job", str(number).encode())
            assert await asyncio.wait_for(taken.get(), ARRIVES_S) == str(number).encode()
        for number in range(STREAM):
            await js.publish("q.job", b"%d" % number)
            await asyncio.sleep(0.001)
        arrived = {await asyncio.wait_for(taken.get(), ARRIVES_S) for _ in range(STREAM)}
        assert len(arrived) == STREAM
    finally:
        for loop in loops:
            loop.cancel()
        for connection in connections:
            await connection.close()


async def test_a_request_filled_to_its_batch_is_followed_by_another(
        queue: tuple[Client, JetStreamContext]) -> None:
    nc, js = queue
    poll = await LongPoll(nc, "Q", "d", 2, EXPIRES_S).start()
    for number in range(5):
        await js.publish("q.job", str(number).encode())
    taken: list[bytes] = []
    while len(taken) < 5:
        taken += [msg.data for msg in await asyncio.wait_for(poll.take(), ARRIVES_S)]
    assert taken == [b"0", b"1", b"2", b"3", b"4"]


async def waiting(poll: LongPoll, js: JetStreamContext) -> None:
    """A take that opened a request and was cancelled (the dispatcher stopping): the request
    stays open at the server."""
    taking = asyncio.create_task(poll.take())
    while (await js.consumer_info("Q", "d")).num_waiting < 1:
        await asyncio.sleep(0.05)
    taking.cancel()
    await asyncio.gather(taking, return_exceptions=True)


async def test_a_closed_poll_returns_the_jobs_that_arrived_and_were_not_taken(
        queue: tuple[Client, JetStreamContext]) -> None:
    nc, js = queue
    poll = await LongPoll(nc, "Q", "d", 64, EXPIRES_S).start()
    await waiting(poll, js)
    await js.publish("q.job", b"held")
    while (await js.consumer_info("Q", "d")).num_ack_pending < 1:
        await asyncio.sleep(0.05)
    assert [msg.data for msg in await poll.close()] == [b"held"]


async def test_a_closed_poll_is_sent_nothing_more(
        queue: tuple[Client, JetStreamContext]) -> None:
    nc, js = queue
    poll = await LongPoll(nc, "Q", "d", 64, EXPIRES_S).start()
    await waiting(poll, js)
    assert await poll.close() == []
    await js.publish("q.job", b"after")
    await nc.flush()
    info = await js.consumer_info("Q", "d")
    assert (info.num_pending, info.num_ack_pending) == (1, 0)

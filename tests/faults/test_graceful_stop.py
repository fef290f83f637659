"""A dispatcher alone on a real NATS: when it stops it gives the jobs it holds back at once
(another dispatcher takes them now, not after the 30 s ack wait); unless set, its queue and
global cap follow the runners' slots."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import nats
import pytest
from nats.js import JetStreamContext

from coderunner.nats_server import NatsServer
from contracts import subjects
from contracts.messages import JobFile, ProgramJob, RunnerInfo, encode, job_decoder

WAIT_S = 30.0
"""A bound on waiting for an event that should come (a failure, not a threshold)."""
CONSUMER = subjects.dispatcher_consumer(subjects.PRIORITY_API)
GIVEN_BACK_S = 15.0
"""How long the jobs given back may take to reach another pull: well below the ack wait (30 s)
that brings them back without a give-back."""


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("graceful"), port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_server.url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def start_dispatcher(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "coderunner", "dispatcher"],
                            env={**os.environ, "NATS_URL": url, "QUEUE_TIMEOUT": "600"})


async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


async def test_a_stopping_dispatcher_gives_its_held_jobs_back_at_once(
        nats_server: NatsServer, js: JetStreamContext) -> None:
    dispatcher = start_dispatcher(nats_server.url)
    try:
        async def consumer_made() -> bool:
            try:
                await js.consumer_info(subjects.JOBS_STREAM, CONSUMER)
            except nats.js.errors.NotFoundError:
                return False
            return True

        await wait_for(consumer_made, "the dispatcher made its consumers")
        jobs = [ProgramJob(execution_id=f"held-{n}", owner="key:k",
                           priority=subjects.PRIORITY_API, submitted_at=time.time(),
                           language="python", files=[JobFile("main.py", "print(1)")],
                           main_file="main.py") for n in range(3)]
        for job in jobs:  # no runner: the dispatcher holds them
            await js.publish(subjects.job_submit(job.priority), encode(job),
                             headers={"Nats-Msg-Id": job.execution_id})

        async def all_held() -> bool:
            info = await js.consumer_info(subjects.JOBS_STREAM, CONSUMER)
            return bool(info.num_ack_pending == len(jobs))

        await wait_for(all_held, "the dispatcher fetched every job")
        dispatcher.send_signal(signal.SIGTERM)
        assert dispatcher.wait(WAIT_S) == 0
        # Another dispatcher's pull gets them now; without the give-back they would wait out
        # the consumer's 30 s ack wait (the bound here is below it).
        pull = await js.pull_subscribe_bind(CONSUMER, subjects.JOBS_STREAM)
        taken: list[str] = []
        while len(taken) < len(jobs):
            for msg in await pull.fetch(len(jobs) - len(taken), timeout=GIVEN_BACK_S):
                taken.append(job_decoder.decode(msg.data).execution_id)
                await msg.ack()
        assert sorted(taken) == [job.execution_id for job in jobs]
    finally:
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait()


async def test_the_queue_and_the_cap_follow_the_runners_slots_unless_set(
        nats_server: NatsServer, js: JetStreamContext) -> None:
    dispatcher = start_dispatcher(nats_server.url)
    try:
        kv = None
        while kv is None:  # the dispatcher makes the bucket
            try:
                kv = await js.key_value(subjects.RUNNERS_BUCKET)
            except nats.js.errors.BucketNotFoundError:
                await asyncio.sleep(0.1)
        await kv.put("big", encode(RunnerInfo("big", {"python": "3"}, capacity=300,
                                              at=time.time())))

        async def grown() -> bool:
            """The stream first, then each priority's consumer (one after the other: until the
            last is grown, the first is not proof of the others)."""
            info = await js.stream_info(subjects.JOBS_STREAM)
            consumers = [await js.consumer_info(subjects.JOBS_STREAM,
                                                subjects.dispatcher_consumer(priority))
                         for priority in subjects.PRIORITIES]
            return info.config.max_msgs == 4 * 300 and all(
                c.config.max_ack_pending == 4 * 300 for c in consumers)

        await wait_for(grown, "the queue and each priority's cap grew to 4 jobs per slot")
        slots = await js.stream_info(subjects.SLOTS_STREAM)
        assert slots.config.max_msgs == -1  # the runners' consumers cap their jobs
        await kv.delete("big")
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        dispatcher.wait(WAIT_S)

"""Delivery guarantees seen from NATS: a re-published job runs once, a completion is stored
once, a late subscriber replays it, and a durable consumer sees each completion once."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import nats
import nats.errors
import pytest
from nats.aio.client import Client as Nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.messages import ProgramJob, SourceFile, completion_decoder, encode
from tests.conftest import Running
from tests.integration.wsclient import completion_count, stored_completion
from tests.runs_seen import runs_seen


@pytest.fixture
async def nc(platform: Running) -> AsyncIterator[Nats]:
    client = await nats.connect(platform.nats_url)
    yield client
    await client.close()


def job(code: str = "print('once')") -> ProgramJob:
    execution_id = uuid.uuid4().hex
    return ProgramJob(execution_id=execution_id, language="python", main_file="main.py",
                      files=[SourceFile("main.py", code)], owner=f"anon:{execution_id}",
                      priority=1, submitted_at=time.time())


async def test_a_job_published_twice_is_queued_and_completed_once(
    nc: Nats, platform: Running,
) -> None:
    js = nc.jetstream()
    once = job()
    headers = {"Nats-Msg-Id": once.execution_id}
    async with runs_seen(platform.nats_url) as seen:
        first = await js.publish(subjects.job_submit(1), encode(once), headers=headers)
        second = await js.publish(subjects.job_submit(1), encode(once), headers=headers)
        assert (first.duplicate, second.duplicate) == (None, True)
        completion = completion_decoder.decode(
            await stored_completion(platform.nats_url, once.execution_id, wait_s=30))
        assert completion.verdict == "ok"
        later = await js.publish(subjects.job_submit(1), encode(once), headers=headers)
        assert later.duplicate
        await seen.assert_once([once.execution_id])
    assert await completion_count(platform.nats_url, once.execution_id) == 1


async def test_a_late_subscriber_replays_a_completion(nc: Nats, platform: Running) -> None:
    early = job("print('before anyone listened')")
    await nc.jetstream().publish(subjects.job_submit(1), encode(early),
                                 headers={"Nats-Msg-Id": early.execution_id})
    await stored_completion(platform.nats_url, early.execution_id, wait_s=30)
    sub = await nc.jetstream().subscribe(subjects.completed(early.execution_id),
                                         deliver_policy=DeliverPolicy.ALL, ordered_consumer=True)
    msg = await sub.next_msg(timeout=5)
    assert completion_decoder.decode(msg.data).execution_id == early.execution_id
    await sub.unsubscribe()


async def test_a_durable_consumer_sees_each_completion_once(nc: Nats) -> None:
    js = nc.jetstream()
    durable = f"test-{uuid.uuid4().hex[:8]}"
    await js.add_consumer(subjects.COMPLETIONS_STREAM, ConsumerConfig(
        durable_name=durable, deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.EXPLICIT,
        filter_subject=subjects.COMPLETIONS_SUBJECTS))
    try:
        jobs = [job(f"print({n})") for n in range(5)]
        for j in jobs:
            await js.publish(subjects.job_submit(1), encode(j),
                             headers={"Nats-Msg-Id": j.execution_id})
        pull = await js.pull_subscribe_bind(durable, subjects.COMPLETIONS_STREAM)
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not {j.execution_id for j in jobs} <= set(seen) and time.monotonic() < deadline:
            try:
                msgs = await pull.fetch(10, timeout=2)
            except TimeoutError:
                continue
            for msg in msgs:
                seen.append(completion_decoder.decode(msg.data).execution_id)
                await msg.ack()
        mine = [s for s in seen if s in {j.execution_id for j in jobs}]
        assert sorted(mine) == sorted(j.execution_id for j in jobs)  # each once
        try:
            rest = await pull.fetch(10, timeout=1.5)
        except TimeoutError:
            rest = []
        assert not [m for m in rest if m.subject.rsplit(".", 1)[-1] in mine], "seen twice"
    finally:
        await js.delete_consumer(subjects.COMPLETIONS_STREAM, durable)

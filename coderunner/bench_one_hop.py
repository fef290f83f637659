"""The one-hop line of ``coderunner bench --fleet``: the load phase's jobs with no dispatcher, each
simulated runner pulling plain jobs from one shared consumer while it has a free slot (the
design issue #26 suggests next; docs/scale-out.md). Not the platform: a floor for its
submit→claim, measured on the same machine in the same run, at the same rate and job length.

A nats-server of its own, a work-queue stream of one subject, one durable pull consumer; the
same number of runners, each on a NATS connection of its own with ``SLOTS`` slots, asking for
one job per free slot (``fetch(1)``, as ``runners.bus`` does); a job holds its slot for the load
phase's job length, then is acked and its completion published (core NATS). Every job is
counted from what the runners did: lost (never completed) and duplicated (claimed twice). None
is over capacity by construction: a runner asks for a job only when it has a free slot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

from coderunner.fleet_sim import LANGUAGE
from coderunner.nats_server import NatsServer
from contracts.messages import JobFile, ProgramJob, encode, job_decoder
from contracts.subjects import PRIORITY_API
from dispatcher.stats import percentile

STREAM, SUBJECT, CONSUMER, DONE = "ONE_HOP", "one-hop.jobs", "plain", "one-hop.done"
OWNERS = 20
FETCH_S = 2.0
SETTLE_S = 60.0
START_S = 2.0
"""For the runners' first pull requests to reach the server before the first job."""


@dataclass
class Counts:
    submitted: dict[str, float] = field(default_factory=dict)
    claimed: list[tuple[str, float]] = field(default_factory=list)
    completed: set[str] = field(default_factory=set)

    def claim_ms(self) -> list[float]:
        first: dict[str, float] = {}
        for execution_id, at in self.claimed:
            first.setdefault(execution_id, at)
        return [(at - self.submitted[execution_id]) * 1000
                for execution_id, at in first.items() if execution_id in self.submitted]

    def duplicated(self) -> int:
        return sum(n - 1 for n in Counter(e for e, _ in self.claimed).values())

    def lost(self) -> int:
        return len(set(self.submitted) - self.completed)


@dataclass
class OneHopResult:
    load_jobs_per_second: float
    load_job_seconds: float
    submit_to_claim_p50_ms: float
    submit_to_claim_p99_ms: float
    jobs: int
    lost: int
    duplicated: int

    def accounted(self) -> bool:
        return not (self.lost or self.duplicated)


async def _runner(url: str, slots_each: int, job_s: float, counts: Counts,
                  stop: asyncio.Event) -> None:
    nc = await nats.connect(url)
    pull = await nc.jetstream().pull_subscribe_bind(CONSUMER, STREAM)
    slots = asyncio.Semaphore(slots_each)
    holding: set[asyncio.Task[None]] = set()

    async def hold(msg: Msg, execution_id: str) -> None:
        try:
            await asyncio.sleep(job_s)
            await msg.ack()
            await nc.publish(DONE, execution_id.encode())
        finally:
            slots.release()

    try:
        while not stop.is_set():
            await slots.acquire()
            try:
                msg = (await pull.fetch(1, timeout=FETCH_S))[0]
            except (TimeoutError, nats.errors.TimeoutError):
                slots.release()
                continue
            execution_id = job_decoder.decode(msg.data).execution_id
            counts.claimed.append((execution_id, time.time()))
            task = asyncio.create_task(hold(msg, execution_id))
            holding.add(task)
            task.add_done_callback(holding.discard)
        await asyncio.gather(*holding, return_exceptions=True)
    finally:
        await nc.close()


def plain_job(number: int) -> ProgramJob:
    """A job of one of ``OWNERS`` owners, taking no time to run, as the fleet bench submits."""
    return ProgramJob(execution_id=uuid.uuid4().hex, owner=f"key:owner{number % OWNERS}",
                      priority=PRIORITY_API, submitted_at=time.time(), language=LANGUAGE,
                      files=[JobFile("main.py", "pass")], main_file="main.py")


async def paced(per_second: float, seconds: float, submit: Callable[[int], object]) -> int:
    """``submit(n)`` for n = 0, 1, … at ``per_second`` for ``seconds`` (open loop: arrivals do
    not wait); how many were submitted."""
    started = time.monotonic()
    n = 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * per_second) + 1
        while n < due:
            submit(n)
            n += 1
        await asyncio.sleep(max(0.0, due / per_second - elapsed))
    return n


async def _submit(nc: Client, counts: Counts, rate: float, seconds: float) -> None:
    js = nc.jetstream()
    pending: set[asyncio.Task[Any]] = set()

    def submit(number: int) -> None:
        job = plain_job(number)
        counts.submitted[job.execution_id] = job.submitted_at
        task = asyncio.create_task(js.publish(SUBJECT, encode(job), timeout=30))
        pending.add(task)
        task.add_done_callback(pending.discard)

    await paced(rate, seconds, submit)
    await asyncio.gather(*pending)


async def measure_one_hop(root: Path, runners: int, slots_each: int, rate: float,
                          job_s: float, seconds: float) -> OneHopResult:
    server = NatsServer(root / "one-hop", port=0).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT],
                                         retention=RetentionPolicy.WORK_QUEUE))
        await js.add_consumer(STREAM, ConsumerConfig(
            durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
            max_ack_pending=-1, max_waiting=max(512, 2 * runners)))
        counts = Counts()

        async def done(msg: Msg) -> None:
            counts.completed.add(msg.data.decode())

        await nc.subscribe(DONE, cb=done)
        stop = asyncio.Event()
        fleet = [asyncio.create_task(_runner(server.url, slots_each, job_s, counts, stop))
                 for _ in range(runners)]
        await asyncio.sleep(START_S)
        await _submit(nc, counts, rate, seconds)
        deadline = time.monotonic() + SETTLE_S
        while len(counts.completed) < len(counts.submitted) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*fleet, return_exceptions=True), FETCH_S + 10)
        await nc.close()
        claims = counts.claim_ms()
        return OneHopResult(
            load_jobs_per_second=round(rate, 1), load_job_seconds=round(job_s, 2),
            submit_to_claim_p50_ms=round(percentile(claims, 0.5), 2),
            submit_to_claim_p99_ms=round(percentile(claims, 0.99), 2),
            jobs=len(counts.submitted), lost=counts.lost(), duplicated=counts.duplicated(),
        )
    finally:
        server.stop()


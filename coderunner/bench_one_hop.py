"""The one-hop line of ``coderunner bench --fleet``: the load phase's jobs with no dispatcher, each
simulated runner pulling plain jobs from one shared consumer while it has a free slot (the
design issue #26 suggests next; docs/scale-out.md). Not the platform: a floor for its
submit→claim, measured on the same machine in the same run, at the same rate and job length.

NATS of its own in the last set-up's shape (one server, or a three-node cluster with every
stream replicated three times); a work-queue stream of one subject, one durable pull consumer;
the same number of runners, each on a NATS connection of its own with ``SLOTS`` slots, asking
for one job per free slot (``fetch(1)``, as ``runners.bus`` does). A runner that takes a job
holds one of its own seats for it, as the plan says a real runner must (so that dispatchers,
which give jobs only on free seats, never fill a runner one-hop jobs keep busy): it publishes
on a free seat of its own, in a stream of at most one message per seat that refuses a publish
on a full one, like ``SEATS``; the hold comes back to it through a consumer of its own seats,
like a seat job, and is kept unacknowledged until the job ends and its seat is purged. The job
holds its slot for the load phase's job length, then is acked and its completion published
(core NATS).

Two delays: submit→claim (the runner has the job) and submit→seat (its hold is stored: the job
may start). Every job is counted from what the runners did: lost (never completed), duplicated
(claimed twice), and holds that never came back. None is over capacity by construction: a
runner asks for a job only when it has a free slot, and holds a seat it has.
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
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig

from coderunner.fleet_sim import LANGUAGE
from coderunner.multihost import wait_for_jetstream
from coderunner.nats_server import NatsCluster, NatsServer
from contracts.messages import JobFile, ProgramJob, encode, job_decoder
from contracts.nats_options import MAXIMUM_MESSAGES_EXCEEDED, nats_servers
from contracts.subjects import PRIORITY_API
from dispatcher.stats import percentile

STREAM, SUBJECT, CONSUMER, DONE = "ONE_HOP", "one-hop.jobs", "plain", "one-hop.done"
SEATS_STREAM = "ONE_HOP_SEATS"
OWNERS = 20
FETCH_S = 2.0
SETTLE_S = 60.0
START_S = 2.0
"""For the runners' first pull requests to reach the server before the first job."""


def seat_subject(runner: int, seat: int) -> str:
    return f"one-hop.seats.r{runner}.{seat}"


@dataclass
class Counts:
    submitted: dict[str, float] = field(default_factory=dict)
    claimed: list[tuple[str, float]] = field(default_factory=list)
    seated: list[tuple[str, float]] = field(default_factory=list)
    """(execution id, when its runner's hold of a seat was stored)."""
    holds_back: set[str] = field(default_factory=set)
    """Jobs whose hold came back to their runner through its consumer of its own seats."""
    completed: set[str] = field(default_factory=set)

    def claim_ms(self) -> list[float]:
        return self._since_submitted(self.claimed)

    def seat_ms(self) -> list[float]:
        return self._since_submitted(self.seated)

    def _since_submitted(self, seen: list[tuple[str, float]]) -> list[float]:
        """Each job's first time in ``seen``, in ms after its submission."""
        first: dict[str, float] = {}
        for execution_id, at in seen:
            first.setdefault(execution_id, at)
        return [(at - self.submitted[execution_id]) * 1000
                for execution_id, at in first.items() if execution_id in self.submitted]

    def duplicated(self) -> int:
        return sum(n - 1 for n in Counter(e for e, _ in self.claimed).values())

    def lost(self) -> int:
        return len(set(self.submitted) - self.completed)

    def holds_missing(self) -> int:
        """Jobs run without a seat held, or whose hold never came back to their runner."""
        return len(set(self.submitted) - self.holds_back)


@dataclass
class OneHopResult:
    nats_nodes: int
    load_jobs_per_second: float
    load_job_seconds: float
    submit_to_claim_p50_ms: float
    submit_to_claim_p99_ms: float
    submit_to_seat_p50_ms: float
    submit_to_seat_p99_ms: float
    jobs: int
    lost: int
    duplicated: int
    holds_missing: int

    def accounted(self) -> bool:
        return not (self.lost or self.duplicated or self.holds_missing)


class NoFreeSeat(RuntimeError):
    """Every seat of the runner refused its hold (in the platform: dispatchers filled them)."""


async def hold_seat(js: JetStreamContext, runner: int, free: list[int], execution_id: str
                    ) -> int:
    """Hold one of ``free`` (taken out of it) for a job: the first whose publish is stored; a
    seat the stream refuses (it holds a message already) is skipped."""
    while free:
        seat = free.pop()
        try:
            await js.publish(seat_subject(runner, seat), execution_id.encode(),
                             stream=SEATS_STREAM)
            return seat
        except nats.js.errors.APIError as exc:
            if exc.err_code != MAXIMUM_MESSAGES_EXCEEDED:
                raise
    raise NoFreeSeat(f"runner {runner} has no free seat for {execution_id}")


async def _runner(url: str, number: int, slots_each: int, job_s: float, counts: Counts,
                  stop: asyncio.Event) -> None:
    nc = await nats.connect(nats_servers(url))
    js = nc.jetstream()
    pull = await js.pull_subscribe_bind(CONSUMER, STREAM)
    own_seats = await js.pull_subscribe_bind(f"seats-r{number}", SEATS_STREAM)
    slots = asyncio.Semaphore(slots_each)
    free = list(range(slots_each))
    holding: set[asyncio.Task[None]] = set()

    async def run(msg: Msg, execution_id: str) -> None:
        try:
            seat = await hold_seat(js, number, free, execution_id)
            counts.seated.append((execution_id, time.time()))
            await asyncio.sleep(job_s)
            await msg.ack()
            await js.purge_stream(SEATS_STREAM, subject=seat_subject(number, seat))
            free.append(seat)
            await nc.publish(DONE, execution_id.encode())
        finally:
            slots.release()

    async def holds_back() -> None:
        """The runner's own holds, delivered like seat jobs and kept until purged."""
        while not stop.is_set():
            try:
                held = await own_seats.fetch(1, timeout=FETCH_S)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            counts.holds_back.add(held[0].data.decode())

    watching = asyncio.create_task(holds_back())
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
            task = asyncio.create_task(run(msg, execution_id))
            holding.add(task)
            task.add_done_callback(holding.discard)
        await asyncio.gather(*holding, return_exceptions=True)
        await watching
    finally:
        watching.cancel()
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


async def _streams(js: JetStreamContext, runners: int, slots_each: int, replicas: int) -> None:
    await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT], num_replicas=replicas,
                                     retention=RetentionPolicy.WORK_QUEUE))
    await js.add_consumer(STREAM, ConsumerConfig(
        durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
        max_ack_pending=-1, max_waiting=max(512, 2 * runners)))
    await js.add_stream(StreamConfig(
        name=SEATS_STREAM, subjects=["one-hop.seats.>"], num_replicas=replicas,
        retention=RetentionPolicy.WORK_QUEUE, max_msgs_per_subject=1,
        discard=DiscardPolicy.NEW, discard_new_per_subject=True))
    for number in range(runners):
        await js.add_consumer(SEATS_STREAM, ConsumerConfig(
            durable_name=f"seats-r{number}", filter_subject=f"one-hop.seats.r{number}.*",
            ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_ack_pending=slots_each))


async def measure_one_hop(root: Path, runners: int, slots_each: int, rate: float,
                          job_s: float, seconds: float, nats_nodes: int = 1) -> OneHopResult:
    server: NatsServer | NatsCluster = (
        NatsServer(root / "one-hop", port=0) if nats_nodes == 1
        else NatsCluster(root / "one-hop"))
    server.start()
    try:
        replicas = 1 if nats_nodes == 1 else 3
        if replicas > 1:
            await wait_for_jetstream(server.url, replicas)
        nc = await nats.connect(nats_servers(server.url))
        await _streams(nc.jetstream(), runners, slots_each, replicas)
        counts = Counts()

        async def done(msg: Msg) -> None:
            counts.completed.add(msg.data.decode())

        await nc.subscribe(DONE, cb=done)
        stop = asyncio.Event()
        fleet = [asyncio.create_task(_runner(server.url, n, slots_each, job_s, counts, stop))
                 for n in range(runners)]
        await asyncio.sleep(START_S)
        await _submit(nc, counts, rate, seconds)
        deadline = time.monotonic() + SETTLE_S
        while ((len(counts.completed) < len(counts.submitted)
                or len(counts.holds_back) < len(counts.submitted))
               and time.monotonic() < deadline):
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*fleet, return_exceptions=True), FETCH_S + 10)
        await nc.close()
        claims, seats = counts.claim_ms(), counts.seat_ms()
        return OneHopResult(
            nats_nodes=nats_nodes,
            load_jobs_per_second=round(rate, 1), load_job_seconds=round(job_s, 2),
            submit_to_claim_p50_ms=round(percentile(claims, 0.5), 2),
            submit_to_claim_p99_ms=round(percentile(claims, 0.99), 2),
            submit_to_seat_p50_ms=round(percentile(seats, 0.5), 2),
            submit_to_seat_p99_ms=round(percentile(seats, 0.99), 2),
            jobs=len(counts.submitted), lost=counts.lost(), duplicated=counts.duplicated(),
            holds_missing=counts.holds_missing(),
        )
    finally:
        server.stop()

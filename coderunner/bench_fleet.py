"""``coderunner bench --fleet N``: the real dispatcher(s) on a real nats-server against N
simulated runners (``coderunner/fleet_sim.py``: no Docker, the real runner bus).

Three set-ups, one after another: one nats-server with one dispatcher, then with two, then a
three-node cluster (streams replicated three times) with two. In each:

1. **throughput**: jobs that take no time, ``IN_FLIGHT`` submitted and not completed at any
   moment, for ``THROUGHPUT_S``: completions per second, and the dispatchers' CPU per job;
2. **latency at 70 % load**: jobs arrive at ``LOAD`` times that throughput (or at a rate given,
   ``--fleet-rate``: this machine's throughput varies from run to run, so two trees compare at
   one rate), each holding its slot long enough that ``LOAD`` of the fleet's slots are busy:
   placement (the job entering the queue to its release to a runner, both seen by
   ``coderunner.fleet_observer``, a process of its own; also split where its slot is taken),
   submission to the release and submission to a runner's claim;
3. **silent runners**: at the same load, ``SILENT_SHARE`` of the runners stop at once (no
   heartbeat, their jobs never finished): seconds until every job submitted before is done.

Then every job is accounted for by what the simulated runners really did: lost, run twice,
handed to a runner with no free slot, and slots left in the ``SLOTS`` stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from coderunner.bench_one_hop import OneHopResult, measure_one_hop, paced, plain_job
from coderunner.fleet_sim import Ledger, SimulatedRunner, simulated_runner_id
from coderunner.multihost import end_process, wait_for_jetstream
from coderunner.nats_server import NatsCluster, NatsServer
from contracts import subjects
from contracts.messages import ProgramJob, completion_decoder, encode
from contracts.settings import nats_servers
from dispatcher.stats import percentile
from runners.bus import RunnerBus

SETUPS = ((1, 1), (1, 2), (3, 2))
"""(NATS servers, dispatchers) of each set-up, in order."""
SLOTS = 10
"""Jobs each simulated runner runs at once (its RUNNER_MAX_JOBS)."""
IN_FLIGHT = 2000
THROUGHPUT_S = 10.0
WARM_UP_S = 2.0
LOAD = 0.7
LOAD_S = 10.0
LONGEST_JOB_S = 3.0
SILENT_SHARE = 0.1
SILENT_AFTER_S = 3.0
ACK_WAIT_S = 10
"""The dispatchers' RUN_ACK_WAIT: a silent runner's claimed jobs come back after it."""
OWNERS = 20
EDGES = 2
"""Edges of the edge-placed phase, each a process of its own."""
SETTLE_S = 120.0
TEARDOWN_S = 30.0


@dataclass
class SetupResult:
    nats_servers: int
    dispatchers: int
    jobs_per_second: float
    dispatcher_cpu_ms_per_job: float
    """The dispatchers' CPU (together) per job completed in the throughput phase."""
    nats_cpu_ms_per_job: float
    bench_cpu_ms_per_job: float
    """The nats-servers' CPU, and this process's (the simulated runners, the submitter)."""
    load_jobs_per_second: float
    load_rate_given: bool
    """Whether ``load_jobs_per_second`` was given (``--fleet-rate``), not ``LOAD`` times the
    throughput measured just before."""
    load_job_seconds: float
    placement_p50_ms: float
    placement_p99_ms: float
    """The job's publish on the queue to its release on its runner's subject, as an observer
    process sees both (``coderunner.fleet_observer``)."""
    to_slot_p99_ms: float
    """Placement's first part: the job's publish on the queue to its slot's (the queue's hop
    to a dispatcher, the job's wait there and the decision), as the observer sees both. 0 since
    run M: the simulated runners have seats, and with no cap set a job on a seat takes no
    slot."""
    slot_to_release_p99_ms: float
    """Its second: the slot's publish to the release's. Near 0 since run J (no cap is set here:
    both are published at once), 0 since run M (no slot); before, the slot was stored and
    acknowledged first."""
    submit_to_release_p99_ms: float
    """From before the bench's process sends the job (its own loop's wait counts) to the
    release's time in ``RUN`` (the placement of runs A to E in docs/benchmarks.md)."""
    submit_to_claim_p99_ms: float
    edge_placed_submit_to_claim_p50_ms: float
    edge_placed_submit_to_claim_p99_ms: float
    """The second load phase (same rate and job length, since run O): two real edges' job
    queues, each in a process of its own (``coderunner/edge_sim.py``) put each job straight on a
    free seat while no job waits (``edge/seat_placement.py``, since run P; a simulation of it
    in run O); its submission to a runner's claim."""
    edge_placed_submit_to_release_p99_ms: float
    """Its submission to its message stored on the seat (or on a runner's subject, for a job
    that went through the queue)."""
    edge_placed_refused: int
    """Seats the stream refused the edges (held by a job they had not heard of yet)."""
    edge_placed_fallbacks: int
    """Jobs that went to the queue (a job waited, or no free seat was found)."""
    reassign_seconds: float
    jobs: int
    refused: int
    """Submissions the queue refused (it was full): not counted anywhere else."""
    over_capacity: int
    lost: int
    duplicated: int
    leaked_slots: int
    """Slots left in ``SLOTS``, and jobs left on seats in ``SEATS`` (since run M), once all
    completed."""
    verdicts: dict[str, int]
    """The completions' verdicts (``ok`` from the runners; ``expired`` from a dispatcher)."""
    lost_verdicts: dict[str, int]
    """The lost jobs by their completion's verdict (``none``: none came)."""
    load_average: tuple[float, float, float]
    """The machine's 1, 5 and 15 minute load at the end (it may be shared)."""

    def as_json(self) -> dict[str, Any]:
        """camelCase, as the issue names the figures (``jobsPerSecond`` …)."""
        return {_camel(name): value for name, value in asdict(self).items()}

    def accounted(self) -> bool:
        return not (self.over_capacity or self.lost or self.duplicated or self.leaked_slots)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.upper() if word == "p50" or word == "p99" else word.title()
                           for word in rest)


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Submitter:
    """Publishes jobs as an edge does and follows their completions into the ledger."""

    def __init__(self, nc: Client, ledger: Ledger, in_flight: int = IN_FLIGHT) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.ledger = ledger
        self.window = asyncio.Semaphore(in_flight)
        self.refused = 0
        """Jobs the queue refused (full): taken out of the ledger."""
        self._pending: set[asyncio.Task[None]] = set()

    async def follow(self) -> None:
        async def on_msg(msg: Msg) -> None:
            completion = completion_decoder.decode(msg.data)
            if completion.execution_id in self.ledger.submitted \
                    and completion.execution_id not in self.ledger.completed:
                self.window.release()
            self.ledger.complete(completion.execution_id, completion.verdict, time.time())

        await self.nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=on_msg)

    def submit(self, number: int) -> str:
        """Publish one job (in the background); returns its execution id."""
        job = plain_job(number)
        self.ledger.submit(job.execution_id, job.submitted_at)
        task = asyncio.create_task(self._publish(job))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return job.execution_id

    async def _publish(self, job: ProgramJob) -> None:
        try:
            await self.js.publish(subjects.job_submit(job.priority), encode(job),
                                  headers={"Nats-Msg-Id": job.execution_id}, timeout=30)
        except (nats.errors.Error, TimeoutError):  # the queue is full, or NATS too slow
            self.refused += 1
            self.ledger.withdraw(job.execution_id)
            self.window.release()

    async def closed_loop(self, seconds: float) -> set[str]:
        """Keep ``IN_FLIGHT`` jobs submitted and not completed, for ``seconds``."""
        ids: set[str] = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.window.acquire()
            ids.add(self.submit(len(ids)))
        return ids

    async def paced(self, per_second: float, seconds: float) -> set[str]:
        """Submit at ``per_second`` for ``seconds`` (open loop: arrivals do not wait)."""
        ids: set[str] = set()
        await paced(per_second, seconds, lambda number: ids.add(self.submit(number)))
        return ids

    async def settled(self, before: float | None = None, timeout_s: float = SETTLE_S) -> float:
        """Seconds until every job (submitted before ``before``) has completed."""
        started = time.monotonic()
        while self.ledger.unfinished(before) and time.monotonic() - started < timeout_s:
            await asyncio.sleep(0.05)
        return time.monotonic() - started


@dataclass
class Bed:
    url: str
    dispatchers: list[subprocess.Popen[bytes]]
    nats_pids: list[int]
    runners: list[SimulatedRunner]
    nc: Client
    ledger: Ledger

    def cpu(self) -> tuple[float, float, float]:
        """CPU seconds so far of the dispatchers, the nats-servers, and this process (the
        simulated runners and the submitter)."""
        return (sum(cpu_seconds(d.pid) for d in self.dispatchers),
                sum(cpu_seconds(pid) for pid in self.nats_pids), cpu_seconds(os.getpid()))


@asynccontextmanager
async def fleet_bed(root: Path, runners: int, nats_nodes: int, dispatchers: int
                    ) -> AsyncIterator[Bed]:
    server: NatsServer | NatsCluster = (
        NatsServer(root / "nats", port=0) if nats_nodes == 1 else NatsCluster(root / "nats"))
    server.start()
    procs: list[subprocess.Popen[bytes]] = []
    sims: list[SimulatedRunner] = []
    nc: Client | None = None
    try:
        if nats_nodes > 1:
            await wait_for_jetstream(server.url, replicas=3)
        env = {**os.environ, "NATS_URL": server.url, "LOG_LEVEL": "WARNING",
               "RUN_ACK_WAIT": str(ACK_WAIT_S)}
        for key in ("MAX_CONCURRENT_SESSIONS", "QUEUE_CAPACITY"):
            env.pop(key, None)
        procs = [subprocess.Popen([sys.executable, "-m", "coderunner", "dispatcher"], env=env)
                 for _ in range(dispatchers)]
        nc = await nats.connect(nats_servers(server.url))
        await _dispatchers_answer(nc, dispatchers)
        ledger = Ledger()
        sims = await _start_runners(server.url, runners, ledger)
        members = server.servers if isinstance(server, NatsCluster) else [server]
        pids = [m.process.pid for m in members if m.process is not None]
        yield Bed(server.url, procs, pids, sims, nc, ledger)
    finally:
        with contextlib.suppress(TimeoutError):  # a runner stuck on a dead connection
            await asyncio.wait_for(asyncio.gather(
                *(sim.stop() for sim in sims), return_exceptions=True), TEARDOWN_S)
            await asyncio.wait_for(asyncio.gather(
                *(sim.bus.close() for sim in sims), return_exceptions=True), TEARDOWN_S)
        if nc is not None:
            await nc.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.stop()


class Observer:
    """``coderunner.fleet_observer`` in a process of its own, for one phase."""

    def __init__(self, url: str, root: Path) -> None:
        self.out = root / "observed.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coderunner.fleet_observer", url, str(self.out)])

    async def ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not Path(f"{self.out}.ready").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fleet observer did not start")
            await asyncio.sleep(0.05)

    def stop(self) -> dict[str, dict[str, float]]:
        """Stop it and read what it saw (nothing when it failed)."""
        end_process(self.proc, timeout_s=30)
        if not self.out.exists():
            return {"queued": {}, "slotted": {}, "released": {}}
        seen: dict[str, dict[str, float]] = json.loads(self.out.read_text())
        return seen


def observed_ms(seen: dict[str, dict[str, float]], of: set[str], start: str,
                end: str) -> list[float]:
    """Per job of ``of`` the observer saw at ``start`` and at ``end`` (``queued``, ``slotted``,
    ``released``), the time between: placement is ``queued`` to ``released``."""
    first, then = seen[start], seen[end]
    return [max(0.0, (then[e] - first[e]) * 1000) for e in of if e in first and e in then]


async def _dispatchers_answer(nc: Client, count: int, timeout_s: float = 60.0) -> None:
    """Until ``count`` dispatchers answer a queue stats request (each has set up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(subjects.QUEUE_STATS, b"", reply=inbox)
        await asyncio.sleep(0.5)
        answers = sub.pending_msgs
        await sub.unsubscribe()
        if answers >= count:
            return
    raise RuntimeError(f"{count} dispatchers did not answer within {timeout_s} s")


async def _start_runners(url: str, count: int, ledger: Ledger) -> list[SimulatedRunner]:
    async def one(index: int) -> SimulatedRunner:
        runner_id = simulated_runner_id(index)
        bus = await RunnerBus.connect(url, f"runner {runner_id}")
        sim = SimulatedRunner(runner_id, bus, SLOTS, ledger)
        await sim.start()
        return sim

    sims: list[SimulatedRunner] = []
    for first in range(0, count, 25):
        sims += await asyncio.gather(*(one(i) for i in range(first, min(count, first + 25))))
    await asyncio.wait_for(asyncio.gather(*(sim.bound.wait() for sim in sims)), 120)
    return sims


async def leaked_slots(nc: Client, timeout_s: float = 10.0) -> int:
    """Slots left in the SLOTS stream, and jobs left on seats in SEATS, once every job
    completed (waiting for the purges)."""
    js = nc.jetstream()
    deadline = time.monotonic() + timeout_s
    while True:
        left = 0
        for stream in (subjects.SLOTS_STREAM, subjects.SEATS_STREAM):
            left += (await js.stream_info(stream)).state.messages
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.2)


async def measure(root: Path, runners: int, nats_nodes: int, dispatchers: int,
                  given_rate: float | None = None) -> SetupResult:
    async with fleet_bed(root, runners, nats_nodes, dispatchers) as bed:
        submitter = Submitter(bed.nc, bed.ledger, min(IN_FLIGHT, runners * SLOTS))
        await submitter.follow()
        await submitter.closed_loop(WARM_UP_S)
        cpu_before, done_before, started = bed.cpu(), len(bed.ledger.completed), \
            time.monotonic()
        await submitter.closed_loop(THROUGHPUT_S)
        seconds = time.monotonic() - started
        done = len(bed.ledger.completed) - done_before
        cpu_ms = [(after - before) * 1000 / max(1, done)
                  for before, after in zip(cpu_before, bed.cpu(), strict=True)]
        await submitter.settled()
        throughput = done / seconds
        _say(f"{nats_nodes} NATS, {dispatchers} dispatchers: {throughput:.0f} jobs/s, "
             f"{len(bed.ledger.completed)}/{len(bed.ledger.submitted)} completed")

        rate = given_rate or LOAD * throughput
        job_s = min(LONGEST_JOB_S, LOAD * runners * SLOTS / rate)
        for sim in bed.runners:
            sim.job_s = job_s
        observer = Observer(bed.url, root)
        try:
            await observer.ready()
            loaded = await submitter.paced(rate, LOAD_S)
            await submitter.settled()
        finally:
            seen = observer.stop()
        placements = observed_ms(seen, loaded, "queued", "released")
        _say(f"  the observer saw {len(placements)} of {len(loaded)} jobs queued and released")
        _say(f"  at {rate:.0f} jobs/s of {job_s:.2f} s: "
             f"{len(bed.ledger.completed)}/{len(bed.ledger.submitted)} completed")

        placed = await edges_place(bed.url, len(bed.runners), rate, root)
        edge_placed = set(placed["submitted"])
        for execution_id, at in placed["submitted"].items():
            bed.ledger.submit(execution_id, at)
        await submitter.settled()
        fallbacks = len(edge_placed) - placed["placed"]
        _say(f"  edge-placed at {rate:.0f} jobs/s: {len(edge_placed)} jobs, "
             f"{fallbacks} to the queue, {placed['refused']} seats refused")

        reassign = await _silence(submitter, bed.runners, rate)
        await submitter.settled()
        _say(f"  silent runners' jobs done in {reassign:.1f} s: "
             f"{len(bed.ledger.completed)}/{len(bed.ledger.submitted)} completed")
        ledger = bed.ledger
        return SetupResult(
            nats_servers=nats_nodes, dispatchers=dispatchers,
            jobs_per_second=round(throughput, 1),
            dispatcher_cpu_ms_per_job=round(cpu_ms[0], 3),
            nats_cpu_ms_per_job=round(cpu_ms[1], 3), bench_cpu_ms_per_job=round(cpu_ms[2], 3),
            load_jobs_per_second=round(rate, 1), load_rate_given=given_rate is not None,
            load_job_seconds=round(job_s, 2),
            placement_p50_ms=round(percentile(placements, 0.5), 2),
            placement_p99_ms=round(percentile(placements, 0.99), 2),
            to_slot_p99_ms=round(percentile(
                observed_ms(seen, loaded, "queued", "slotted"), 0.99), 2),
            slot_to_release_p99_ms=round(percentile(
                observed_ms(seen, loaded, "slotted", "released"), 0.99), 2),
            submit_to_release_p99_ms=round(
                percentile(ledger.submit_to_release_ms(loaded), 0.99), 2),
            submit_to_claim_p99_ms=round(percentile(ledger.claim_ms(loaded), 0.99), 2),
            edge_placed_submit_to_claim_p50_ms=round(
                percentile(ledger.claim_ms(edge_placed), 0.5), 2),
            edge_placed_submit_to_claim_p99_ms=round(
                percentile(ledger.claim_ms(edge_placed), 0.99), 2),
            edge_placed_submit_to_release_p99_ms=round(
                percentile(ledger.submit_to_release_ms(edge_placed), 0.99), 2),
            edge_placed_refused=placed["refused"],
            edge_placed_fallbacks=fallbacks,
            reassign_seconds=round(reassign, 2), jobs=len(ledger.submitted),
            refused=submitter.refused,
            over_capacity=ledger.over_capacity(SLOTS), lost=ledger.lost(),
            duplicated=ledger.duplicated(), leaked_slots=await leaked_slots(bed.nc),
            verdicts=dict(ledger.verdicts),
            lost_verdicts=dict(ledger.lost_verdicts()),
            load_average=os.getloadavg(),
        )


async def edges_place(url: str, runners: int, rate: float, root: Path) -> dict[str, Any]:
    """The edge-placed phase's jobs, submitted by ``EDGES`` real edges' job queues, each in a
    process of its own (``coderunner.edge_sim``) at its share of ``rate``: what they submitted
    when, how many they placed, the seats refused."""
    outs = [root / f"edge-placed-{n}.json" for n in range(EDGES)]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coderunner.edge_sim", url, str(runners), str(rate / EDGES),
        str(LOAD_S), str(out)) for out in outs]
    for proc in procs:
        if await proc.wait() != 0:
            raise RuntimeError(f"an edge's process ended with {proc.returncode}")
    placed: dict[str, Any] = {"submitted": {}, "placed": 0, "refused": 0}
    for out in outs:
        one = json.loads(out.read_text())
        placed["submitted"].update(one["submitted"])
        placed["placed"] += one["placed"]
        placed["refused"] += one["refused"]
    return placed


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _silence(submitter: Submitter, runners: Sequence[SimulatedRunner],
                   rate: float) -> float:
    """Seconds from ``SILENT_SHARE`` of the runners (the busiest) going silent under load
    until every job submitted before that has completed (on the runners left)."""
    load = asyncio.create_task(submitter.paced(rate, 2 * SILENT_AFTER_S))
    await asyncio.sleep(SILENT_AFTER_S)
    busiest = sorted(runners, key=lambda sim: sim.active, reverse=True)
    silent = busiest[:max(1, round(len(runners) * SILENT_SHARE))]
    at = time.time()
    await asyncio.gather(*(sim.go_silent() for sim in silent))
    seconds = await submitter.settled(before=at)
    await load
    return seconds


def run(runners: int, setups: Sequence[tuple[int, int]] = SETUPS,
        rate: float | None = None) -> list[SetupResult]:
    """Each set-up in turn; ``rate``: the jobs a second of the load phase (else ``LOAD`` times
    each set-up's throughput)."""
    results = []
    for nats_nodes, dispatchers in setups:
        with tempfile.TemporaryDirectory(prefix="coderunner-fleet-") as tmp:
            results.append(asyncio.run(
                measure(Path(tmp), runners, nats_nodes, dispatchers, rate)))
        _say(json.dumps(results[-1].as_json()))
    return results


def parse_setups(text: str) -> list[tuple[int, int]]:
    """``--fleet-setups``: comma-separated ``NATS:DISPATCHERS`` pairs (``1:2,3:2``); NATS is 1
    (one server) or 3 (a cluster), dispatchers at least 1."""
    setups = []
    for part in text.split(","):
        nats_text, colon, dispatchers_text = part.strip().partition(":")
        try:
            nats_nodes, dispatchers = int(nats_text), int(dispatchers_text)
        except ValueError:
            nats_nodes = dispatchers = 0
        if not colon or nats_nodes not in (1, 3) or dispatchers < 1:
            raise ValueError(f"{part.strip()!r} is not NATS:DISPATCHERS (NATS 1 or 3, "
                             "dispatchers at least 1), as in 1:2")
        setups.append((nats_nodes, dispatchers))
    return setups


def one_hop(runners: int, last: SetupResult) -> OneHopResult:
    """The one-hop floor (``coderunner.bench_one_hop``) at the last set-up's load, on NATS of
    the same shape (one server, or a three-node cluster)."""
    with tempfile.TemporaryDirectory(prefix="coderunner-fleet-") as tmp:
        result = asyncio.run(measure_one_hop(Path(tmp), runners, SLOTS, last.load_jobs_per_second,
                                             last.load_job_seconds, LOAD_S, last.nats_servers))
    _say(f"one hop: {json.dumps(asdict(result))}")
    return result


def main(runners: int, as_json: bool = False, setups: Sequence[tuple[int, int]] = SETUPS,
         rate: float | None = None) -> int:
    results = run(runners, setups, rate)
    floor = one_hop(runners, results[-1])
    report: dict[str, Any] = {"runners": runners, "slotsPerRunner": SLOTS,
                              "setups": [r.as_json() for r in results],
                              "oneHop": {_camel(name): value
                                         for name, value in asdict(floor).items()}}
    print(json.dumps(report, indent=None if as_json else 2))
    return 0 if all(r.accounted() for r in results) and floor.accounted() else 1

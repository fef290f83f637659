"""Simulated runners for ``coderunner bench --fleet``, and the ledger that accounts for every job.

A simulated runner is a runner without Docker: it heartbeats as a runner does (``RunnerInfo``
in the ``runners`` bucket, every ``RUNNER_HEARTBEAT_S``), binds to its consumer on RUN, claims
one job at a time while it has a free slot, sleeps for the job's duration and asks a dispatcher
to publish the completion, then acks: the same ``runners.bus.RunnerBus`` calls, over a NATS
connection of its own. Each one writes what it really did in the ``Ledger``, and the ledger
counts (never assumes) what was lost, run twice, or handed to a runner that had no free slot.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from contracts.messages import PoolInfo, RunnerInfo, completion_for
from contracts.runtimes import DEFAULT_LANGUAGES
from contracts.subjects import RUNNER_HEARTBEAT_S
from runners.bus import ClaimedJob, CompletionRefused, RunnerBus

log = logging.getLogger(__name__)
LANGUAGE = "python"
"""The language of every job; a simulated runner tells all of ``make up``'s languages, each with
its image and warm pool, as a real one does (a dispatcher's work per heartbeat grows with them)."""
VERSIONS = dict.fromkeys(DEFAULT_LANGUAGES, "1")
IMAGES = {language: f"inputs-of-{language}" for language in DEFAULT_LANGUAGES}


@dataclass(frozen=True)
class Run:
    """One job a runner ran to its end (its completion was relayed)."""

    runner_id: str
    execution_id: str
    released_at: float
    """When a dispatcher published it on the runner's subject (the RUN message's time)."""
    claimed_at: float
    done_at: float
    """When the runner asked for its completion: its slot is free from here on."""


@dataclass
class Ledger:
    """Every job submitted, run and completed in one bench phase, and what that adds up to."""

    submitted: dict[str, float] = field(default_factory=dict)
    """Execution id → when it was submitted (Unix seconds)."""
    completed: dict[str, float] = field(default_factory=dict)
    """Execution id → when its completion event arrived."""
    verdict_of: dict[str, str] = field(default_factory=dict)
    verdicts: Counter[str] = field(default_factory=Counter)
    runs: list[Run] = field(default_factory=list)
    abandoned: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Runner id → (released, claimed) of jobs it claimed and never finished (it went silent):
    they hold a slot there until moved."""
    _ran: set[str] = field(default_factory=set)
    """The execution ids in ``runs``."""

    def submit(self, execution_id: str, at: float) -> None:
        self.submitted[execution_id] = at

    def withdraw(self, execution_id: str) -> None:
        """A submission the queue refused: it was never accepted."""
        self.submitted.pop(execution_id, None)

    def complete(self, execution_id: str, verdict: str, at: float) -> None:
        if execution_id not in self.completed:
            self.completed[execution_id] = at
            self.verdict_of[execution_id] = verdict
            self.verdicts[verdict] += 1

    def ran(self, run: Run) -> None:
        self.runs.append(run)
        self._ran.add(run.execution_id)

    def abandon(self, runner_id: str, released_at: float, claimed_at: float) -> None:
        self.abandoned.setdefault(runner_id, []).append((released_at, claimed_at))

    def duplicated(self) -> int:
        """Jobs run to their end more than once (each extra run counts)."""
        counts = Counter(run.execution_id for run in self.runs)
        return sum(n - 1 for n in counts.values() if n > 1)

    def lost(self) -> int:
        """Jobs submitted that no runner ran to its end, or whose completion never came."""
        return len(self._lost())

    def lost_verdicts(self) -> Counter[str]:
        """The lost jobs by their completion's verdict (``none``: no completion came): a job
        that completed ``ok`` with no run recorded was run and missed by the ledger; one a
        dispatcher ended (``expired``, ``internal_error``) never ran to its end."""
        return Counter(self.verdict_of.get(e, "none") for e in self._lost())

    def _lost(self) -> list[str]:
        return [e for e in self.submitted if e not in self._ran or e not in self.completed]

    def over_capacity(self, capacity: int) -> int:
        """Jobs handed to a runner while it already held ``capacity`` jobs (released to it,
        not yet done): a job released at ``r`` was over when at least ``capacity`` others had
        been released to the same runner before ``r`` and were not done by ``r``."""
        by_runner: dict[str, list[tuple[float, float]]] = {}
        for run in self.runs:
            by_runner.setdefault(run.runner_id, []).append((run.released_at, run.done_at))
        for runner_id, held in self.abandoned.items():
            by_runner.setdefault(runner_id, []).extend((r, float("inf")) for r, _ in held)
        return sum(_over(spans, capacity) for spans in by_runner.values())

    def submit_to_release_ms(self, of: set[str]) -> list[float]:
        """Per run of a job in ``of``, from the bench's stamp before it sent the job to the
        job's release to a runner (the bench's own wait counts; placement proper is
        ``bench_fleet.observed_ms``)."""
        return [max(0.0, (r.released_at - self.submitted[r.execution_id]) * 1000)
                for r in self.runs if r.execution_id in of and r.execution_id in self.submitted]

    def claim_ms(self, of: set[str]) -> list[float]:
        """Per run of a job in ``of``, submission to a runner holding the job."""
        return [max(0.0, (r.claimed_at - self.submitted[r.execution_id]) * 1000)
                for r in self.runs if r.execution_id in of and r.execution_id in self.submitted]

    def unfinished(self, before: float | None = None) -> int:
        """Jobs submitted (before ``before``) with no completion yet, or completed ``ok`` by a
        runner that has not recorded its run yet: a simulated runner records it when the
        dispatcher answers its completion's relay, and the completion itself may arrive here
        first (counted then, such a job read as lost, with no lost verdict a moment later)."""
        return sum(1 for e, at in self.submitted.items()
                   if (before is None or at < before) and (
                       e not in self.completed
                       or (self.verdict_of[e] == "ok" and e not in self._ran)))


def _over(spans: Iterable[tuple[float, float]], capacity: int) -> int:
    """Of ``(released, done)`` spans on one runner, how many were released while
    ``capacity`` others were held (released before, not done yet)."""
    ordered = sorted(spans)
    releases = [r for r, _ in ordered]
    dones = sorted(d for _, d in ordered)
    over = 0
    for released, _ in ordered:
        held = bisect.bisect_left(releases, released) - bisect.bisect_right(dones, released)
        if held >= capacity:
            over += 1
    return over


def simulated_runner_id(index: int) -> str:
    return f"sim-{index:04d}"


class SimulatedRunner:
    """A runner that runs nothing: it claims, sleeps ``job_s``, completes, over the runner bus."""

    def __init__(self, runner_id: str, bus: RunnerBus, capacity: int, ledger: Ledger) -> None:
        self.runner_id = runner_id
        self.bus = bus
        self.capacity = capacity
        self.ledger = ledger
        self.job_s = 0.0
        self.active = 0
        self.jobs = 0
        self._stopped = False
        self.pools = {language: PoolInfo(warm=1, target=1) for language in VERSIONS}
        self.pools[LANGUAGE] = PoolInfo(warm=capacity, target=capacity)
        self.bound = asyncio.Event()
        """Set once it holds its consumer on RUN (a dispatcher made it)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._sleeping: set[asyncio.Task[None]] = set()
        self._main: list[asyncio.Task[None]] = []

    def info(self) -> RunnerInfo:
        return RunnerInfo(self.runner_id, VERSIONS, self.active, self.capacity, time.time(),
                          pools=self.pools, jobs=self.jobs, images=IMAGES,
                          seats=True)

    async def start(self) -> None:
        """Heartbeat, then serve once a dispatcher made this runner's consumer."""
        await self.bus.heartbeat(self.info())
        self._main = [asyncio.create_task(self._heartbeats()), asyncio.create_task(self._serve())]

    async def _heartbeats(self) -> None:
        while not self._stopped:
            await asyncio.sleep(RUNNER_HEARTBEAT_S)
            try:
                await self.bus.heartbeat(self.info())
            except Exception as exc:
                log.warning("heartbeat of %s failed: %s", self.runner_id, exc)

    async def _serve(self) -> None:
        await self.bus.bind(self.runner_id)
        self.bound.set()
        slots = asyncio.Semaphore(self.capacity)
        while not self._stopped:
            await slots.acquire()
            try:
                claimed = await self.bus.claim()
            except Exception as exc:  # nats-py may turn a cancel into an error of its own
                if self._stopped:
                    return
                log.warning("claim of %s failed: %s", self.runner_id, exc)
                claimed = None
                await asyncio.sleep(0.5)
            if claimed is None:
                slots.release()
                continue
            task = asyncio.create_task(self._handle(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: slots.release())

    async def _handle(self, claimed: ClaimedJob) -> None:
        job = claimed.job
        if claimed.deliveries > 1 and await self.bus.already_completed(job.execution_id):
            await claimed.ack()  # as a runner does: a redelivery of a finished job is not run
            return
        if self._stopped:  # went silent meanwhile: it holds the job, never runs it
            self.ledger.abandon(self.runner_id, claimed.released_at, claimed.claimed_at)
            return
        self.active += 1
        self.jobs += 1
        try:
            await self._run(claimed)
            done_at = time.time()
            completion = completion_for(job, "ok", wall_ms=round(self.job_s * 1000))
            await self.bus.publish_completion(completion, claimed.seat)
            self.ledger.ran(Run(self.runner_id, job.execution_id, claimed.released_at,
                                claimed.claimed_at, done_at))
            await claimed.ack()
        except CompletionRefused as refused:
            log.warning("%s", refused)
        finally:
            self.active -= 1

    async def _run(self, claimed: ClaimedJob) -> None:
        """The job's time; the one part a silence cuts short (a completion already asked for
        is let through: whether it reached a dispatcher would be unknown)."""
        task = asyncio.current_task()
        assert task is not None
        self._sleeping.add(task)
        try:
            with _abandoned_if_cancelled(self, claimed):
                if self.job_s:
                    await asyncio.sleep(self.job_s)
        finally:
            self._sleeping.discard(task)

    async def go_silent(self) -> None:
        """Stop at once, as a paused or cut-off host does: no heartbeat, no claim, the jobs it
        holds never finished nor acked (dispatchers must move them)."""
        self._stopped = True
        for task in [*self._main, *self._sleeping]:
            task.cancel()
        await asyncio.gather(*self._main, *self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        await self.go_silent()
        await self.bus.leave(self.runner_id)


@contextlib.contextmanager
def _abandoned_if_cancelled(runner: SimulatedRunner, claimed: ClaimedJob) -> Iterator[None]:
    try:
        yield
    except asyncio.CancelledError:
        runner.ledger.abandon(runner.runner_id, claimed.released_at, claimed.claimed_at)
        raise

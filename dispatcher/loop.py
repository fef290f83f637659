"""The dispatcher's event loop: feeds the DispatchQueue from NATS and acts on its decisions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.msg import Msg

from contracts.messages import (
    CompletionEvent,
    Job,
    PlacementState,
    QueueStats,
    RunnerInfo,
    Verdict,
    completion_for,
    job_decoder,
    undecodable_job,
)
from contracts.seats import UNKNOWN_HOLDER_S, Seats
from contracts.settings import DispatcherSettings
from contracts.subjects import (
    ATTEMPT_HEADER,
    PLACEMENT_STATE_EVERY_S,
    PRIORITIES,
    runner_consumer,
    runner_token,
)
from dispatcher.bus import DispatcherBus, SeatTaken
from dispatcher.fleet import Affinity, Fleet, affinity_of
from dispatcher.fleet_limits import DEFAULT_QUEUE_CAPACITY, global_cap, queue_capacity
from dispatcher.service import DispatchQueue, Waiting
from dispatcher.stats import CompletionStats

log = logging.getLogger(__name__)
HOUSEKEEPING_S = 1.0
ORPHANS_EVERY_S = 2.0
SLOTS_CHECK_S = 15.0
PLACEMENTS_CACHED = 10_000
RETRY_S = 0.5
IN_PROGRESS_EVERY_S = 10.0
Choices = dict[tuple[str, str | None, bool], str | None]
"""(language, preferred runner, hard) → the runner the fleet chose, or None."""
RELEASES_AT_ONCE = 64
"""Releases whose JetStream publishes (slot, RUN or SEATS, ack) may be under way at once."""


def unknown_holder(token: str, seat: int) -> str:
    """The stand-in, counted on a runner (``Fleet.released_by_another``), for a job this
    dispatcher has not heard of that holds one of its seats (a release there was refused)."""
    return f"?{token} {seat}"


@dataclass
class Held:
    """A job this dispatcher fetched and has not released yet."""

    msg: Msg
    job: Job
    attempts: int = 0
    """Times it was handed to a runner before (it was moved off a silent one)."""
    affinity: Affinity | None = None
    moved: bool = False
    """Put back in the queue by a dispatcher that took it off a silent runner's consumer."""

    def release_id(self) -> str:
        """The ``Nats-Msg-Id`` of its release: the execution id the first time (a job fetched
        twice is released once), then the sequence of the queue message that moved it (each
        move is released once, and none is taken for a repeat of another)."""
        if not self.moved:
            return self.job.execution_id
        return f"{self.job.execution_id}.j{self.msg.metadata.sequence.stream}"


class Dispatcher:
    def __init__(self, settings: DispatcherSettings, bus: DispatcherBus,
                 queue_capacity: int = DEFAULT_QUEUE_CAPACITY) -> None:
        self.bus = bus
        self.queue: DispatchQueue[Held] = DispatchQueue(
            global_cap(settings, 0), settings.queue_timeout_s, settings.owner_max_share / 100
        )
        self.queue_capacity = queue_capacity
        self._wake = asyncio.Event()
        self.settings = settings
        self.stats = CompletionStats()
        self.id = uuid.uuid4().hex
        self.fleet = Fleet(tie=self.id)  # its own order of runners as free
        self.seats = Seats()
        self.placements: dict[str, str] = {}
        """Placement key → runner, as this dispatcher last read or made it (the newest
        ``PLACEMENTS_CACHED``; an older one is read again from the bucket)."""
        self._consumers: set[str] = set()
        """Runners whose consumer this dispatcher made (or found) since it started."""
        self._looking_up: set[str] = set()
        self._orphaned: dict[str, float] = {}
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        """``give_back`` began: a fetch loop that outlived its cancel ends (the process
        would not exit)."""
        self._making: set[str] = set()
        """Runners whose consumer is being made."""
        self._growing = False
        self._chores: set[asyncio.Task[None]] = set()
        self._sending = asyncio.Semaphore(RELEASES_AT_ONCE)
        self._cap_full = False
        """A slot was refused (``MAX_CONCURRENT_SESSIONS`` reached): release nothing more
        until the next wake (a completion, a heartbeat)."""
        self._sends: set[asyncio.Task[None]] = set()
        self._ending: set[asyncio.Task[None]] = set()
        """Fetched jobs being ended, not queued (duplicates, stopped, undecodable)."""
        self._told_waiting: bool | None = None
        """Whether a job waited, as the edges were last told (``_tell_edges``)."""

    async def serve(self) -> None:
        await self.bus.on_completion(self._completed)
        await self.bus.relay_runner_completions(self.fleet.given_to)
        await self.bus.on_stop(self._stop)
        await self.bus.on_dead_letter(self._dead_letter)
        await self.bus.on_stats_request(self._stats)
        await self.bus.on_heartbeat(self._heartbeat)
        await self.bus.on_slot_taken(self._slot_taken)
        await self.bus.on_released(self._released_on_seat)
        loops = [self._fetch(p) for p in PRIORITIES] + [
            self._release(), self._housekeeping(), self._orphans(), self._audit_slots(),
            self._tell_edges_each_second()]
        await asyncio.gather(*loops)

    async def _fetch(self, priority: int) -> None:
        while not self._stopping:
            try:
                await self._fetch_once(priority)
            except Exception as exc:  # NATS reconnecting, say: the jobs wait in the stream
                if self._stopping:  # nats-py may turn the stop's cancel into its own error
                    return
                log.warning("fetching priority %d failed: %s; retrying", priority, exc)
                await asyncio.sleep(RETRY_S)

    async def _fetch_once(self, priority: int) -> None:
        msgs = await self.bus.fetch(priority)
        # The whole batch is queued before anything is awaited: a stop, an expiry or a
        # give_back that comes meanwhile finds every job of it.
        for msg in msgs:
            try:
                self._hold(msg, priority)
            except Exception as exc:  # a malformed header, say: ended, never left unheld
                self._end(self._undecodable(msg, exc))
        if msgs:
            await self._release_ready()  # at once, when a slot is free

    def _hold(self, msg: Msg, priority: int) -> None:
        """Queue a fetched job, without waiting: what needs NATS (ending a job this version
        cannot read, a duplicate or one stopped already; reading where its session or notebook
        lives) runs in a task of its own."""
        try:
            job = job_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            self._end(self._undecodable(msg, exc))
            return
        headers = msg.headers or {}
        held = Held(msg, job, int(headers.get(ATTEMPT_HEADER, 0)), affinity_of(job),
                    moved=ATTEMPT_HEADER in headers)
        if held.moved:  # taken off a silent runner: it no longer runs there
            self.queue.completed(job.execution_id)
            self.fleet.taken_back(job.execution_id)
            self.seats.free(job.execution_id)
        affinity = held.affinity
        group = affinity.key if affinity is not None and affinity.in_order else None
        since = time.time() if held.moved else job.submitted_at
        waiting = Waiting(job.execution_id, priority, since, held, group, job.owner)
        if self.queue.stopped_on_arrival(job.execution_id):  # the stop overtook the job
            self._end(self._finish(held, "cancelled", "stopped before it ran"))
        elif not self.queue.add(waiting):
            self._end(msg.ack())  # a redelivered duplicate of a job this dispatcher holds
        elif affinity is not None and affinity.key not in self.placements \
                and affinity.key not in self._looking_up:
            self._looking_up.add(affinity.key)  # its jobs wait until it is read
            self._in_background(self._look_up(affinity.key))

    def _end(self, ending: Coroutine[Any, Any, None]) -> None:
        """End a fetched job that is not queued (publish its completion, ack it) in a task of
        its own; ``give_back`` waits for these."""
        task = asyncio.create_task(ending)
        self._ending.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._ending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("ending a fetched job failed: %s (it comes back after the ack wait)",
                        exc)

    async def give_back(self) -> int:
        """Hand every job this dispatcher holds (fetched, not released) back to the queue at
        once, when it stops (``serve`` was cancelled, its fetches with it), and those a fetch
        brought that the stop cut off mid-batch: another dispatcher takes them now, not after
        the ack wait. Jobs being ended (``_end``) are ended first."""
        self._stopping = True
        fetched = await self.bus.stop_fetching()
        await asyncio.gather(*self._sends, *self._ending, return_exceptions=True)
        held = self.queue.waiting()
        for waiting in held:
            with contextlib.suppress(Exception):  # NATS gone: the ack wait brings it back
                await self.bus.give_back(waiting.handle.msg)
        return fetched + len(held)

    async def _undecodable(self, msg: Msg, problem: Exception) -> None:
        """End a job this version cannot read with a completion that says so (never silence)."""
        log.error("ending a job this dispatcher cannot decode: %s", problem)
        completion = undecodable_job(msg.data, str(problem))
        if completion is not None:
            await self.bus.publish_completion(completion)
        await msg.term()

    async def _look_up(self, key: str) -> None:
        """Read where another dispatcher placed a session or notebook (``key`` is in
        ``_looking_up``: its jobs, queued, wait until then)."""
        try:
            placed = await self.bus.placement(key)
        except Exception as exc:  # placed anew, as when no dispatcher had placed it
            log.warning("reading where %s lives failed: %s", key, exc)
            placed = None
        finally:
            self._looking_up.discard(key)
            self._wake.set()
        if placed is not None:
            self._remember(key, placed)

    def _remember(self, key: str, runner: str) -> None:
        self.placements.pop(key, None)
        self.placements[key] = runner
        while len(self.placements) > PLACEMENTS_CACHED:
            del self.placements[next(iter(self.placements))]

    async def _release(self) -> None:
        """Release what a completion made room for."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._cap_full = False  # a completion or a heartbeat: try again
            await self._release_ready()

    async def _release_ready(self) -> None:
        """Release every job that can go now. The decisions are taken here, one after another
        and without waiting (each sees the slots the ones before it took); the JetStream
        publishes of each release run in the background, ``RELEASES_AT_ONCE`` at most."""
        while not self._cap_full and not self._stopping:
            await self._sending.acquire()
            now = time.monotonic()
            choices: Choices = {}
            item = self.queue.next(self._placeable(now, choices))
            if item is None:
                self._sending.release()
                if bool(len(self.queue)) != self._told_waiting:
                    await self._tell_edges()  # at once: they stop, or start, placing jobs
                return
            runner = self._target(item.handle, now, choices)
            assert runner is not None  # next() only hands out jobs that have one
            self.fleet.sent(runner, item.execution_id, item.handle.job.runtime)  # others see
            affinity = item.handle.affinity                                      # it taken
            before = self.placements.get(affinity.key) if affinity is not None else None
            placed = self._placed(affinity, runner)
            seat = self._seat_for(runner, item.execution_id, now)
            task = asyncio.create_task(self._send(item, runner, placed, before, seat))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
            task.add_done_callback(lambda _: self._sending.release())

    def _seat_for(self, runner: str, execution_id: str, now: float) -> int | None:
        """The seat a job takes on a runner that has seats (``RunnerInfo.seats``), held at
        once in this dispatcher's picture; None for an older runner (its job goes on RUN)."""
        view = self.fleet.runners[runner]
        if not view.info.seats:
            return None
        seat = self.seats.pick(runner, view.info.capacity, now)
        self.seats.hold(runner, seat, execution_id, now)
        return seat

    async def _send(self, item: Waiting[Held], runner: str, placed: str | None,
                    before: str | None = None, seat: int | None = None) -> None:
        """Publish a job on its runner's seat (``seat``; on its RUN subject for an older
        runner), with its global slot when it needs one, ack it in JOBS, and record the
        placement ``placed`` names (a session or notebook now on ``runner``; ``before``: where
        this dispatcher had it, put back if the job does not go). With no cap set a job on a
        seat takes no slot (its seat holds it); one on RUN takes a slot, and as ``SLOTS`` then
        never refuses one, both publishes are under way at once. With a cap, the slot comes
        first. A seat found held (another dispatcher's job there) puts the job back."""
        held = item.handle
        execution_id = held.job.execution_id
        slotted = False
        try:
            if not self.bus.slots_capped and seat is not None:
                await self._publish_release(held, runner, seat)
            elif not self.bus.slots_capped:
                await asyncio.gather(self.bus.take_slot(execution_id, runner),
                                     self._publish_release(held, runner, seat))
                if execution_id not in self.queue.running:
                    # It completed before its slot was stored: the completion's purge of the
                    # slot may have found nothing to purge.
                    await self.bus.free_slot(execution_id)
            elif slotted := await self.bus.take_slot(execution_id, runner):
                await self._publish_release(held, runner, seat)
            else:
                self._did_not_go(item, runner, placed, before)
                self._cap_full = True  # other dispatchers fill the cap: a completion wakes it
                return
            await held.msg.ack()
        except SeatTaken:
            assert seat is not None
            self._did_not_go(item, runner, placed, before)
            self._seat_refused(runner, seat)
            if slotted:
                with contextlib.suppress(Exception):  # else the slot audit frees it
                    await self.bus.free_slot(execution_id)
            self._wake.set()  # to another seat or runner
            return
        except Exception as exc:
            # Not acked: JetStream redelivers the job to a dispatcher after ack_wait.
            log.warning("releasing %s failed: %s", execution_id, exc)
            self.fleet.taken_back(execution_id)
            self.seats.free(execution_id)
            self._unplace(placed, runner, before)
            self.queue.completed(execution_id)
            with contextlib.suppress(Exception):
                await self.bus.free_slot(execution_id)
            await asyncio.sleep(RETRY_S)
            return
        if placed is not None:
            await self._record_placement(placed, runner)

    def _did_not_go(self, item: Waiting[Held], runner: str, placed: str | None,
                    before: str | None) -> None:
        """A job chosen for ``runner`` was not released (no slot, or its seat was held): it
        waits again in this dispatcher's queue."""
        self.fleet.taken_back(item.execution_id)
        self.seats.free(item.execution_id)
        self._unplace(placed, runner, before)
        self.queue.put_back(item)

    def _seat_refused(self, runner: str, seat: int) -> None:
        """Another dispatcher's job, not heard of yet, holds the seat: it counts on the runner
        until its release is heard (``_released_on_seat``) or for ``UNKNOWN_HOLDER_S`` (else
        the runner would be chosen again as freer than it is, and refused again)."""
        now = time.monotonic()
        self.seats.refused(runner, seat, now)
        token = runner_token(runner)
        stand_in = unknown_holder(token, seat)
        self.fleet.released_by_another(stand_in, token, now)
        asyncio.get_running_loop().call_later(UNKNOWN_HOLDER_S, self._holder_heard, stand_in)

    def _holder_heard(self, stand_in: str) -> None:
        self.fleet.taken_back(stand_in)
        self._wake.set()

    async def _publish_release(self, held: Held, runner: str, seat: int | None) -> None:
        if seat is None:
            await self.bus.release(held.job, held.msg.data, runner, held.attempts,
                                   held.release_id())
        else:
            await self.bus.release_on_seat(held.msg.data, runner, seat, held.attempts,
                                           held.release_id())

    def _placeable(self, now: float, choices: Choices) -> Callable[[Waiting[Held]], bool]:
        return lambda w: self._target(w.handle, now, choices) is not None

    def _target(self, held: Held, now: float, choices: Choices) -> str | None:
        """The runner for a held job now, or None when none can take it yet. ``choices``
        remembers the fleet's answers until the next job is sent: the jobs of one language
        (and placement) get the same one, so it is asked once, not once per owner waiting."""
        affinity = held.affinity
        if affinity is not None and affinity.key in self._looking_up:
            return None
        prefer = self.placements.get(affinity.key) if affinity else None
        key = (held.job.runtime, prefer, affinity.hard if affinity else False)
        if key not in choices:
            choices[key] = self.fleet.choose(key[0], now, prefer, hard=key[2])
        return choices[key]

    def _placed(self, affinity: Affinity | None, runner: str) -> str | None:
        """Remember where a session or notebook now lives (a kept container alone does not
        move its owner's session), at once, so the owner's next job, decided before this
        one's publishes are done, goes there too; returns the key to record in the bucket."""
        if affinity is None or self.placements.get(affinity.key) == runner:
            return None
        if not affinity.hard and affinity.key in self.placements:
            return None
        self._remember(affinity.key, runner)
        return affinity.key

    def _unplace(self, placed: str | None, runner: str, before: str | None) -> None:
        """A job that did not go takes back the placement it made: else the owner's next job
        to that runner would find it made already and never record it in the bucket, and
        another dispatcher would place the session or notebook anew (its state lost)."""
        if placed is None or self.placements.get(placed) != runner:
            return
        if before is None:
            self.placements.pop(placed, None)
        else:
            self._remember(placed, before)

    async def _record_placement(self, key: str, runner: str) -> None:
        try:
            await self.bus.place(key, runner)
        except Exception as exc:  # the next dispatcher to see the owner may choose anew
            log.warning("recording where %s lives failed: %s", key, exc)

    async def _heartbeat(self, beat: RunnerInfo | str, age_s: float) -> None:
        """Follow the fleet at once; what needs JetStream (a runner's consumer, a larger
        queue) is done in the background: with hundreds of runners, heartbeats waiting on
        it fell behind by more than ``RUNNER_SILENT_S`` and live runners were taken for gone."""
        if isinstance(beat, str):
            self.fleet.gone(beat, time.monotonic())
            self._follow_fleet()
            return
        self.fleet.heartbeat(beat, time.monotonic() - age_s)
        self._follow_fleet()
        if beat.runner_id not in self._consumers and beat.runner_id not in self._making:
            self._making.add(beat.runner_id)
            self._in_background(self._make_consumer(beat.runner_id, beat.capacity))
        self._wake.set()

    def _slot_taken(self, execution_id: str, runner: str) -> None:
        """A dispatcher (this one too: ignored) gave a job to a runner: another's counts there
        at once, not from the runner's next heartbeat (up to 3 s later: two dispatchers gave
        runners their last slots both)."""
        self.fleet.released_by_another(execution_id, runner, time.monotonic())

    def _released_on_seat(self, execution_id: str, token: str, seat: int) -> None:
        """A dispatcher (this one too) released a job on one of a runner's seats: it counts
        there (``_slot_taken``), and its seat is held in this dispatcher's picture; a stand-in
        for that seat's unknown holder (``_seat_refused``) is dropped."""
        self.fleet.taken_back(unknown_holder(token, seat))
        self.fleet.released_by_another(execution_id, token, time.monotonic())
        runner = self.fleet.given_to(execution_id)  # None: completed already, or unknown
        if runner is not None and runner_token(runner) == token \
                and self.seats.seat_of(execution_id) != (runner, seat):  # not its own, heard back
            self.seats.hold(runner, seat, execution_id, time.monotonic())

    async def _make_consumer(self, runner_id: str, capacity: int) -> None:
        try:
            await self.bus.ensure_runner_consumer(runner_id, capacity)
            self._consumers.add(runner_id)
        except Exception as exc:  # tried again on its next heartbeat
            log.warning("making runner %s's consumer failed: %s", runner_id, exc)
        finally:
            self._making.discard(runner_id)

    def _in_background(self, chore: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(chore)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _follow_fleet(self) -> None:
        """The global cap and the queue's capacity follow the live runners' slots, unless set
        (``MAX_CONCURRENT_SESSIONS``, ``QUEUE_CAPACITY``)."""
        self.queue.resize(global_cap(self.settings, self.fleet.slots(time.monotonic())))
        if not self._growing and self._capacity_wanted() > self.queue_capacity:
            self._growing = True
            self._in_background(self._grow_queue())

    def _capacity_wanted(self) -> int:
        slots = self.fleet.slots(time.monotonic())
        return queue_capacity(self.settings, slots, self.queue_capacity)

    async def _grow_queue(self) -> None:
        """Grow the queue to what the fleet wants, again while it wants more (one grow at a
        time, to the newest size: not one per runner that joins)."""
        try:
            while (capacity := self._capacity_wanted()) > self.queue_capacity:
                await self.bus.grow_queue(capacity)
                self.queue_capacity = capacity
        except Exception as exc:  # tried again on the next heartbeat
            log.warning("growing the queue failed: %s", exc)
        finally:
            self._growing = False

    def placement_state(self) -> PlacementState:
        return PlacementState(self.id, len(self.queue), self.bus.slots_capped,
                              self.fleet.usual_images())

    async def _tell_edges(self) -> None:
        """Tell the edges whether a job waits here (``contracts.subjects.PLACEMENT_STATE``):
        while one does, no edge puts jobs straight on seats."""
        state = self.placement_state()
        self._told_waiting = state.waiting > 0
        try:
            await self.bus.tell_edges(state)
        except Exception as exc:  # NATS reconnecting, say: told again within a second
            log.warning("telling the edges whether jobs wait failed: %s", exc)

    async def _tell_edges_each_second(self) -> None:
        while True:
            await self._tell_edges()
            await asyncio.sleep(PLACEMENT_STATE_EVERY_S)

    async def _orphans(self) -> None:
        """Drain the consumers of runners that went silent: their jobs go to other runners."""
        while True:
            await asyncio.sleep(ORPHANS_EVERY_S)
            try:
                await self._find_orphans()
            except Exception as exc:
                log.warning("looking for silent runners failed: %s; retrying", exc)

    async def _find_orphans(self) -> None:
        now = time.monotonic()
        runner_of = {runner_consumer(r): r for r in self.fleet.runners}
        alive = {runner_consumer(r) for r in self.fleet.alive(now)}
        for name in await self.bus.runner_consumers():
            if name in alive or name in self._draining:
                self._orphaned.pop(name, None)
                continue
            since = self._orphaned.setdefault(name, now)
            # A runner this dispatcher saw go silent is drained at once; one it never saw
            # (it started after the runner died) gets the same grace from now.
            if name in runner_of or now - since >= self.fleet.silent_s:
                self._orphaned.pop(name, None)
                task = asyncio.create_task(self._drain(name, runner_of.get(name)))
                self._draining[name] = task

    async def _drain(self, consumer: str, runner_id: str | None) -> None:
        view = self.fleet.runners.get(runner_id) if runner_id else None
        if view is not None and view.seen == float("-inf"):
            log.info("runner %s left: moving what waited for it", runner_id)
        else:
            log.warning("runner consumer %s has no live runner: moving its jobs", consumer)
        try:
            pulls = await self.bus.drain(consumer)
            try:
                while runner_id is None or runner_id not in self.fleet.alive(time.monotonic()):
                    msgs = await self.bus.take(pulls, 1.0)
                    for msg in msgs:
                        await self._rescue(msg)
                    if not msgs and await self.bus.remove_if_empty(consumer):
                        if runner_id is not None:
                            self.fleet.forget(runner_id)
                            self.seats.forget(runner_id)
                            self._consumers.discard(runner_id)
                        return
            finally:
                for pull in pulls:
                    with contextlib.suppress(Exception):
                        await pull.unsubscribe()
        except Exception as exc:  # the next look for orphans starts again
            log.warning("draining %s failed: %s", consumer, exc)
        finally:
            self._draining.pop(consumer, None)

    async def _rescue(self, msg: Msg) -> None:
        """Put a job of a silent runner back in the queue (or end it, when it was handed out
        ``MAX_DELIVER`` times: it may be what kills runners)."""
        try:
            job = job_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            await self._undecodable(msg, exc)
            return
        before = int((msg.headers or {}).get(ATTEMPT_HEADER, 0))
        attempts = before + (msg.metadata.num_delivered or 1) - 1  # not counting this take
        if await self.bus.already_completed(job.execution_id):
            pass  # it finished before its runner could ack it
        elif attempts >= self.settings.max_deliver:
            await self._dead_letter(job)
        else:
            await self.bus.free_slot(job.execution_id)  # it waits again, without a slot
            await self.bus.resubmit(job, msg.data, attempts,
                                    f"{job.execution_id}.r{msg.metadata.sequence.stream}")
        await msg.ack()

    async def _housekeeping(self) -> None:
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                for item in self.queue.take_expired(time.time()):
                    await self._finish(item.handle, "expired", "waited longer than QUEUE_TIMEOUT")
                if time.monotonic() - last_progress >= IN_PROGRESS_EVERY_S:
                    last_progress = time.monotonic()
                    for waiting in self.queue.waiting():
                        await waiting.handle.msg.in_progress()
            except Exception as exc:
                log.warning("housekeeping failed: %s; retrying", exc)

    async def _audit_slots(self) -> None:
        """Every ``SLOTS_CHECK_S``, free the slots taken that long ago whose jobs completed (a
        task of its own: the queue's expiry does not wait for it)."""
        while True:
            await asyncio.sleep(SLOTS_CHECK_S)
            try:
                await self.free_finished_slots(time.time() - SLOTS_CHECK_S)
            except Exception as exc:
                log.warning("looking for slots of completed jobs failed: %s; retrying", exc)

    async def free_finished_slots(self, taken_before: float) -> int:
        """Free the slots, taken before ``taken_before``, of jobs that completed while the
        dispatcher that released them was gone (or could not free them): only the slots older
        than a completion's usual way to its dispatcher are looked at, read in one pass, and
        their completions looked up many at once (every slot, one after another, took seconds
        every 15 s with thousands running). Returns how many it freed."""
        done = await self.bus.completed_among(await self.bus.slots_taken_before(taken_before))
        for execution_id in done:
            # Also a completion this dispatcher missed (it was reconnecting to NATS).
            self.queue.completed(execution_id)
            self.fleet.completed(execution_id)
            await self.bus.free_slot(execution_id)
        if done:
            log.warning("freed %d slots of jobs that had completed", len(done))
            self._wake.set()
        return len(done)

    async def _finish(self, held: Held, verdict: Verdict, message: str) -> None:
        msg, job = held.msg, held.job
        queued_ms = max(0, round((time.time() - job.submitted_at) * 1000))
        await self.bus.publish_completion(completion_for(job, verdict, message,
                                                         queued_ms=queued_ms))
        await msg.ack()

    async def _stats(self) -> QueueStats:
        pending = await self.bus.pending()
        held = self.queue.depth()
        waiting = {p: held.get(p, 0) + pending.get(p, 0) for p in PRIORITIES}
        return self.stats.snapshot(waiting, len(self.queue.running),
                                   self.queue_capacity, self.queue.max_concurrent,
                                   self.fleet.on_runners(time.monotonic()))

    async def _completed(self, completion: CompletionEvent) -> None:
        self.stats.record(completion)
        self.fleet.completed(completion.execution_id)
        on_seat = self.seats.seat_of(completion.execution_id) is not None
        self.seats.free(completion.execution_id)
        if self.queue.completed(completion.execution_id) \
                and (self.bus.slots_capped or not on_seat):  # a seat's job took no slot
            try:
                await self.bus.free_slot(completion.execution_id)
            except Exception as exc:  # the next look at the slots frees it
                log.warning("freeing the slot of %s failed: %s", completion.execution_id, exc)
        # Any completion may have freed a global slot, this dispatcher's or another's.
        self._wake.set()

    async def _stop(self, execution_id: str) -> None:
        item = self.queue.cancel(execution_id, time.time())
        if item is not None:
            await self._finish(item.handle, "cancelled", "stopped before it ran")

    async def _dead_letter(self, job: Job) -> None:
        await self.bus.free_slot(job.execution_id)
        await self.bus.publish_completion(
            completion_for(job, "internal_error", "no runner could finish this job"))

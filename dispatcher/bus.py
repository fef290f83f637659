"""The dispatcher's side of NATS: it owns the streams and consumers of the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.kv import KeyValue

from contracts import subjects
from contracts.messages import (
    CompletionEvent,
    Job,
    PlacementState,
    QueueStats,
    RunnerInfo,
    completion_decoder,
    control_decoder,
    encode,
    job_decoder,
    runner_info_decoder,
    undecodable_job,
)
from contracts.nats_options import MAXIMUM_MESSAGES_EXCEEDED, connect_options
from contracts.settings import DispatcherSettings
from dispatcher.fleet_limits import queue_capacity
from dispatcher.long_poll import LongPoll

log = logging.getLogger(__name__)
FETCH_TIMEOUT_S = 5.0
"""A long poll: answered at once when a job arrives; short enough that a pull request lost in
a NATS reconnect stalls the queue for seconds, not minutes."""
FETCH_BATCH = 64
"""Jobs one pull request may bring (each dispatcher holds at most the queue consumer's
``max_ack_pending`` in all)."""
SLOT_READ_BATCH = 256
"""Slots one pull of the audit's read brings (headers only: a few dozen bytes each)."""
SLOT_READ_TIMEOUT_S = 5.0
LOOKUPS_AT_ONCE = 64
"""Completions the slot audit looks up at once (each a JetStream message get)."""
SLOT_LOOKS_AGAIN_S = (0.05, 0.1, 0.2, 0.4)
"""The waits before the completion relay looks again for a slot not found (a job's slot and
its release are published at once when no cap is set: 0.75 s in all, well under a runner's
``COMPLETION_REPLY_S``); a job given to another runner is refused at once (its slot says so)."""
GIVE_BACK_S = 2.0
CONSUMER_PAGE = 256
"""Consumers nats-server lists in one answer."""
SETUP_ATTEMPTS = 30
"""Tries at declaring the streams (at start, and again after a reconnect) while JetStream is
not ready: a cluster electing its leader, a restarted server recovering its streams."""
SETUP_RETRY_S = 1.0


class _Advisory(msgspec.Struct):
    stream_seq: int


def stream_configs(settings: DispatcherSettings, queue_capacity: int) -> list[StreamConfig]:
    window = float(subjects.DUPLICATE_WINDOW_S)
    return [
        StreamConfig(
            name=subjects.JOBS_STREAM,
            subjects=[subjects.JOBS_SUBJECTS],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_msgs=queue_capacity,
            discard=DiscardPolicy.NEW,
            duplicate_window=window,
        ),
        StreamConfig(
            name=subjects.RUN_STREAM,
            subjects=[subjects.RUN_SUBJECTS],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=window,
        ),
        StreamConfig(
            name=subjects.SEATS_STREAM,
            subjects=[subjects.SEATS_SUBJECTS],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_msgs_per_subject=1,
            discard=DiscardPolicy.NEW,
            discard_new_per_subject=True,  # a seat that holds a job refuses another
            allow_direct=True,  # a runner reads its own seat (subjects.runner_permissions)
            duplicate_window=window,
        ),
        StreamConfig(
            name=subjects.SLOTS_STREAM,
            subjects=[subjects.SLOTS_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            # Unset: each runner's consumer caps its jobs (max_ack_pending = its slots).
            max_msgs=settings.max_concurrent or -1,
            max_msgs_per_subject=1,
            discard=DiscardPolicy.NEW,
            max_age=float(subjects.RESULTS_MAX_AGE_S),
            duplicate_window=window,
        ),
        StreamConfig(
            name=subjects.COMPLETIONS_STREAM,
            subjects=[subjects.COMPLETIONS_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=float(subjects.COMPLETIONS_MAX_AGE_S),
            duplicate_window=window,
        ),
    ]


def _token(runner_id: str | None) -> str | None:
    return subjects.runner_token(runner_id) if runner_id is not None else None


class SeatTaken(Exception):
    """A release on a seat that holds another job was refused (``SEATS``: discard new per
    subject): the job did not go."""


def seat_of_request(header: str | None) -> tuple[int, int] | None:
    """The seat and stream sequence a runner names with a completion request
    (``subjects.SEAT_HEADER``, ``<seat> <sequence>``); None when absent or malformed."""
    seat_text, _, seq_text = (header or "").partition(" ")
    if not (seat_text.isdigit() and seq_text.isdigit()):
        return None
    seq = int(seq_text)
    return (int(seat_text), seq) if seq > 0 else None


class DispatcherBus:
    def __init__(self, nc: Client, js: JetStreamContext, settings: DispatcherSettings) -> None:
        self._nc = nc
        self._js = js
        self._settings = settings
        self._polls: dict[int, LongPoll] = {}
        self._placements: KeyValue
        self._redeclaring: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(cls, settings: DispatcherSettings) -> DispatcherBus:
        buses: list[DispatcherBus] = []

        async def reconnected() -> None:
            for bus in buses:
                bus.reconnected()

        nc = await nats.connect(
            **connect_options(settings.nats_url, settings.nats, "dispatcher"),
            max_reconnect_attempts=-1, reconnect_time_wait=0.5, reconnected_cb=reconnected,
        )
        buses.append(cls(nc, nc.jetstream(), settings))
        return buses[0]

    def _at_once(self, handle: Callable[[Msg], Coroutine[Any, Any, None]]
                 ) -> Callable[[Msg], Awaitable[None]]:
        """A subscription callback that handles each message in a task of its own: nats-py
        runs one subscription's callbacks one after another, and a handler that waits for
        JetStream (a completion's publish, a slot's purge) would hold every message behind it."""

        async def on_msg(msg: Msg) -> None:
            task = asyncio.create_task(handle(msg))
            self._handling.add(task)
            task.add_done_callback(self._handled)

        return on_msg

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._handling.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("handling a message failed: %s", exc)

    async def ensure_streams(self) -> int:
        """Create or update the queue's streams, buckets and consumers (idempotent), replicated
        on up to three servers when NATS runs as a cluster, and bind this dispatcher's pulls,
        retried while JetStream is not ready (a cluster electing its leader, a replicated
        stream slow to answer under load); the queue's capacity is returned
        (``QUEUE_CAPACITY``, or what the queue has grown to, see ``fleet_limits``)."""
        return await self._retrying(self._set_up, "setting up the streams")

    async def _set_up(self) -> int:
        capacity = await self._declare()
        self._placements = await self._js.key_value(subjects.PLACEMENTS_BUCKET)
        for priority in subjects.PRIORITIES:
            if priority not in self._polls:  # a set-up tried again keeps the polls it made
                self._polls[priority] = await LongPoll(
                    self._nc, subjects.JOBS_STREAM, subjects.dispatcher_consumer(priority),
                    FETCH_BATCH, FETCH_TIMEOUT_S).start()
        return capacity

    def reconnected(self) -> None:
        """NATS is back (nats-py's ``reconnected_cb``): declare the streams and buckets again.
        A restarted nats-server keeps the file-stored ones but has lost the runners bucket
        (memory storage): without it no runner's heartbeat is stored, and a runner that had
        not bound the bucket before the restart never heartbeats again (no consumer is made
        for it, and jobs wait for a runner until they expire). The queue's pull requests
        may be forgotten too: each poll opens a new one."""
        for poll in self._polls.values():
            poll.lost()
        if self._redeclaring is None or self._redeclaring.done():
            self._redeclaring = asyncio.create_task(self._declare_again())

    async def _declare_again(self) -> None:
        try:
            await self._retrying(self._declare, "declaring the streams again after a reconnect")
        except (nats.errors.Error, TimeoutError) as exc:
            log.error("declaring the streams again after a reconnect failed: %s", exc)
        else:
            log.info("NATS reconnected: streams and buckets declared again")

    @staticmethod
    async def _retrying(declare: Callable[[], Awaitable[int]], what: str) -> int:
        """``declare``, tried ``SETUP_ATTEMPTS`` times while JetStream is not ready."""
        for attempt in range(1, SETUP_ATTEMPTS + 1):
            try:
                return await declare()
            except (nats.errors.Error, TimeoutError) as exc:
                if attempt == SETUP_ATTEMPTS:
                    raise
                log.warning("%s failed (%s); retrying", what, exc)
                await asyncio.sleep(SETUP_RETRY_S)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _declare(self) -> int:
        """Create or update the streams, buckets and the queue's consumers (idempotent);
        returns the queue's capacity."""
        replicas = await self._replicas()
        capacity = queue_capacity(self._settings, 0, await self._queue_capacity_now())
        for config in stream_configs(self._settings, capacity):
            config.num_replicas = replicas
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await self._js.update_stream(config)
        for priority in subjects.PRIORITIES:
            await self._js.add_consumer(
                subjects.JOBS_STREAM,
                ConsumerConfig(
                    durable_name=subjects.dispatcher_consumer(priority),
                    filter_subject=subjects.job_submit(priority),
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=30.0,
                    max_ack_pending=capacity,
                ),
            )
        await self._bucket(KeyValueConfig(
            bucket=subjects.RUNNERS_BUCKET, ttl=float(subjects.RUNNER_TTL_S), history=1,
            storage=StorageType.MEMORY, replicas=replicas,
        ))
        await self._bucket(KeyValueConfig(
            bucket=subjects.EXECUTIONS_BUCKET, ttl=float(subjects.RESULTS_MAX_AGE_S), history=1,
            storage=StorageType.FILE, replicas=replicas,
        ))
        await self._bucket(KeyValueConfig(
            bucket=subjects.PLACEMENTS_BUCKET, ttl=float(subjects.RESULTS_MAX_AGE_S), history=1,
            storage=StorageType.FILE, replicas=replicas,
        ))
        await self._bucket(KeyValueConfig(
            bucket=subjects.LIMITS_BUCKET, ttl=float(subjects.LIMITS_MAX_AGE_S), history=1,
            storage=StorageType.FILE, replicas=replicas,
        ))
        return capacity

    async def _queue_capacity_now(self) -> int:
        """The JOBS stream's limit as it is (another dispatcher may have grown it), or 0."""
        try:
            info = await self._js.stream_info(subjects.JOBS_STREAM)
        except nats.js.errors.NotFoundError:
            return 0
        return max(0, info.config.max_msgs or 0)

    async def grow_queue(self, capacity: int) -> None:
        """Raise the queue's capacity (the JOBS stream's limit and each priority's consumer's
        ``max_ack_pending``) as runners join."""
        info = await self._js.stream_info(subjects.JOBS_STREAM)
        if (info.config.max_msgs or 0) < capacity:
            info.config.max_msgs = capacity
            await self._js.update_stream(info.config)
        for priority in subjects.PRIORITIES:
            consumer = await self._js.consumer_info(
                subjects.JOBS_STREAM, subjects.dispatcher_consumer(priority))
            if (consumer.config.max_ack_pending or 0) < capacity:
                consumer.config.max_ack_pending = capacity
                await self._js.add_consumer(subjects.JOBS_STREAM, consumer.config)

    async def _replicas(self) -> int:
        """How many copies of each stream the cluster allows: three with three or more
        JetStream servers, fewer with fewer (one without a cluster). Asked of the server by
        creating a probe stream (nats-server knows its peers; the client does not)."""
        for replicas in (3, 2):
            probe = StreamConfig(name=subjects.REPLICAS_PROBE_STREAM,
                                 subjects=[subjects.REPLICAS_PROBE_SUBJECT],
                                 storage=StorageType.MEMORY, num_replicas=replicas, max_msgs=1)
            try:
                await self._js.add_stream(probe)
            except nats.js.errors.APIError:
                continue  # not clustered, or not that many servers
            with contextlib.suppress(nats.js.errors.APIError):
                await self._js.delete_stream(probe.name or "")
            return replicas
        return 1

    async def _bucket(self, config: KeyValueConfig) -> None:
        """Create a KV bucket, or bring an existing one's replicas up to ``config``'s."""
        try:
            await self._js.create_key_value(config)
        except nats.js.errors.BadRequestError:
            info = await self._js.stream_info(subjects.kv_stream(config.bucket))
            stream = info.config
            stream.num_replicas = config.replicas
            await self._js.update_stream(stream)

    async def ensure_runner_consumer(self, runner_id: str, capacity: int) -> None:
        """Create (or bring to this dispatcher's settings) a runner's consumers: on SEATS (an
        older runner never reads it, and is given no job there), then on RUN (the one a runner
        waits for before it binds both)."""
        for stream, filter_subject in ((subjects.SEATS_STREAM, subjects.seats_of(runner_id)),
                                       (subjects.RUN_STREAM, subjects.run_for(runner_id))):
            config = ConsumerConfig(
                durable_name=subjects.runner_consumer(runner_id),
                filter_subject=filter_subject,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=float(self._settings.run_ack_wait_s),
                max_deliver=self._settings.max_deliver,
                max_ack_pending=max(1, capacity),
                max_waiting=512,
            )
            try:
                await self._js.add_consumer(stream, config)
            except nats.js.errors.BadRequestError as exc:  # made by a dispatcher set otherwise
                log.warning("runner %s's consumer on %s has other settings than this "
                            "dispatcher's RUN_ACK_WAIT and MAX_DELIVER (%s): give every "
                            "dispatcher the same settings", runner_id, stream, exc)

    async def runner_consumers(self) -> list[str]:
        """The names of the runners' consumers on SEATS and RUN (one name for a runner's two),
        page after page (the server lists ``CONSUMER_PAGE`` at most at once: past that, silent
        runners went unnoticed)."""
        found: dict[str, None] = {}
        for stream in (subjects.SEATS_STREAM, subjects.RUN_STREAM):
            names: list[str] = []
            while True:
                page = await self._js.consumers_info(stream, offset=len(names))
                names += [info.name for info in page]
                if len(page) < CONSUMER_PAGE:
                    break
            found.update(dict.fromkeys(n for n in names if subjects.is_runner_consumer(n)))
        return list(found)

    async def drain(self, consumer: str) -> list[JetStreamContext.PullSubscription]:
        """Bind to a silent runner's consumers (on SEATS and on RUN, those it has), to take
        the jobs waiting for it (and, after ``RUN_ACK_WAIT``, those it had claimed and never
        finished)."""
        pulls = []
        for stream in (subjects.SEATS_STREAM, subjects.RUN_STREAM):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.consumer_info(stream, consumer)
                pulls.append(await self._js.pull_subscribe_bind(consumer, stream))
        return pulls

    async def take(self, pulls: list[JetStreamContext.PullSubscription],
                   timeout_s: float) -> list[Msg]:
        """What the drained consumers hold, from each in turn (``timeout_s`` shared)."""
        taken: list[Msg] = []
        for pull in pulls:
            with contextlib.suppress(TimeoutError):
                taken += await pull.fetch(16, timeout=timeout_s / max(1, len(pulls)))
        return taken

    async def remove_if_empty(self, consumer: str) -> bool:
        """Delete a drained runner's consumers: True when they held nothing (else keep
        draining)."""
        streams = [subjects.RUN_STREAM, subjects.SEATS_STREAM]
        for stream in streams:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                info = await self._js.consumer_info(stream, consumer)
                if info.num_pending or info.num_ack_pending:
                    return False
        for stream in streams:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._js.delete_consumer(stream, consumer)
        return True

    async def resubmit(self, job: Job, data: bytes, attempts: int, msg_id: str) -> None:
        """Put a job taken off a silent runner back in the queue, to be dispatched anew
        (``msg_id`` names the take, so that a repeat of it is dropped)."""
        await self._js.publish(
            subjects.job_submit(job.priority), data,
            headers={"Nats-Msg-Id": msg_id, subjects.ATTEMPT_HEADER: str(attempts)},
        )

    async def placement(self, key: str) -> str | None:
        """The runner that holds a session or notebook (``subjects.PLACEMENTS_BUCKET``)."""
        try:
            entry = await self._placements.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def place(self, key: str, runner_id: str) -> None:
        await self._placements.put(key, runner_id.encode())

    async def on_heartbeat(
            self, handler: Callable[[RunnerInfo | str, float], Awaitable[None]]) -> None:
        """Every runner's heartbeat with its age in seconds: the ones in the bucket now (aged
        by their runner's clock), then each put as it happens (age 0); a runner that deleted
        its entry (it stopped) is passed as its id."""
        kv = await self._js.key_value(subjects.RUNNERS_BUCKET)

        async def on_msg(msg: Msg) -> None:
            runner_id = subjects.runner_of_heartbeat(msg.subject)
            if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE"):
                await handler(runner_id, 0.0)
                return
            try:
                await handler(runner_info_decoder.decode(msg.data), 0.0)
            except msgspec.ValidationError:
                log.warning("ignoring a malformed heartbeat of %s", runner_id)

        await self._nc.subscribe(subjects.heartbeats(), cb=on_msg)
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:
            return
        for key in keys:
            with contextlib.suppress(nats.js.errors.KeyNotFoundError, msgspec.ValidationError):
                entry = await kv.get(key)
                if entry.value:
                    info = runner_info_decoder.decode(entry.value)
                    await handler(info, max(0.0, time.time() - info.at))

    async def fetch(self, priority: int) -> list[Msg]:
        """The jobs of one priority's queue that arrived, as soon as any has (a long poll of
        up to ``FETCH_TIMEOUT_S``; an empty list when none came). The caller queues them
        whole before it awaits anything, so a stop or a give-back finds each; jobs that
        arrive while no one takes them wait in the poll, and ``stop_fetching`` gives them
        back."""
        return await self._polls[priority].take()

    @property
    def slots_capped(self) -> bool:
        """Whether ``SLOTS`` has a message limit (``MAX_CONCURRENT_SESSIONS`` set, see
        ``stream_configs``): only then can ``take_slot`` be refused."""
        return self._settings.max_concurrent is not None

    async def take_slot(self, execution_id: str, runner_id: str) -> bool:
        """One of the ``MAX_CONCURRENT_SESSIONS`` slots for a job given to ``runner_id``;
        False when all are taken."""
        try:
            # No Nats-Msg-Id: a job moved off a silent runner takes its slot again, and a
            # repeated publish only replaces the subject's one message.
            await self._js.publish(subjects.slot(execution_id),
                                   subjects.runner_token(runner_id).encode())
        except nats.js.errors.APIError as exc:
            if exc.err_code == MAXIMUM_MESSAGES_EXCEEDED:
                return False
            raise
        return True

    async def free_slot(self, execution_id: str) -> None:
        await self._js.purge_stream(subjects.SLOTS_STREAM, subject=subjects.slot(execution_id))

    async def slots_taken_before(self, cutoff: float) -> list[str]:
        """The execution ids whose slot was taken before ``cutoff`` (Unix seconds), read in
        one pass from the oldest: a stream keeps its messages in the order it stored them, so
        the read ends at the first slot taken after it (the slots of running jobs, most of
        them young, are not read). Headers only, through a consumer of its own made for it."""
        consumer = await self._js.add_consumer(subjects.SLOTS_STREAM, ConsumerConfig(
            filter_subject=subjects.SLOTS_SUBJECTS, ack_policy=AckPolicy.NONE,
            headers_only=True, mem_storage=True, inactive_threshold=60.0))
        assert consumer.name is not None
        taken: list[str] = []
        try:
            left = consumer.num_pending or 0  # later slots are younger than the cutoff
            pull = await self._js.pull_subscribe_bind(consumer.name, subjects.SLOTS_STREAM)
            try:
                while left > 0:
                    for msg in await pull.fetch(min(left, SLOT_READ_BATCH),
                                                timeout=SLOT_READ_TIMEOUT_S):
                        if msg.metadata.timestamp.timestamp() >= cutoff:
                            return taken
                        taken.append(subjects.execution_of_slot(msg.subject))
                        left = min(left - 1, msg.metadata.num_pending)
            finally:
                await pull.unsubscribe()
        finally:
            with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
                await self._js.delete_consumer(subjects.SLOTS_STREAM, consumer.name)
        return taken

    async def completed_among(self, execution_ids: list[str]) -> list[str]:
        """Those of ``execution_ids`` whose completion is stored, looked up
        ``LOOKUPS_AT_ONCE`` at a time."""
        done: list[str] = []
        for start in range(0, len(execution_ids), LOOKUPS_AT_ONCE):
            some = execution_ids[start:start + LOOKUPS_AT_ONCE]
            found = await asyncio.gather(*(self.already_completed(e) for e in some))
            done += [e for e, completed in zip(some, found, strict=True) if completed]
        return done

    async def release(self, job: Job, data: bytes, runner_id: str, attempts: int,
                      msg_id: str) -> None:
        """Hand a job (``data``: its JSON as submitted) to one runner, de-duplicated by
        ``msg_id``."""
        await self._js.publish(
            subjects.run_for(runner_id), data,
            headers={"Nats-Msg-Id": msg_id, subjects.ATTEMPT_HEADER: str(attempts)},
        )

    async def release_on_seat(self, data: bytes, runner_id: str, seat: int, attempts: int,
                              msg_id: str) -> None:
        """Hand a job to one of its runner's seats (``SEATS``), de-duplicated by ``msg_id``;
        ``SeatTaken`` when the seat holds another job. Then every dispatcher is told which
        seat it took (``subjects.released``, core NATS)."""
        try:
            await self._js.publish(
                subjects.seat(runner_id, seat), data,
                headers={"Nats-Msg-Id": msg_id, subjects.ATTEMPT_HEADER: str(attempts)},
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == MAXIMUM_MESSAGES_EXCEEDED:
                raise SeatTaken(runner_id, seat) from exc
            raise
        execution_id = msg_id.split(".", 1)[0]
        await self._nc.publish(subjects.released(execution_id),
                               f"{subjects.runner_token(runner_id)} {seat}".encode())

    async def on_released(self, handler: Callable[[str, str, int], None]) -> None:
        """Every job a dispatcher released on a seat (this one's too): its execution id, the
        ``runner_token`` of its runner and the seat."""

        async def on_msg(msg: Msg) -> None:
            token, _, seat = msg.data.decode(errors="replace").partition(" ")
            if seat.isdigit():
                handler(subjects.execution_of_release(msg.subject), token, int(seat))

        await self._nc.subscribe(subjects.RELEASED_ALL, cb=on_msg)

    async def _seat_holds(self, execution_id: str, runner: str, seat: int, seq: int) -> bool:
        """Whether the message at ``seq`` in SEATS is this execution's release on the runner
        token ``runner``'s seat (a release this dispatcher did not hear of)."""
        try:
            raw = await self._js.get_msg(subjects.SEATS_STREAM, seq)
        except nats.js.errors.NotFoundError:
            return False
        msg_id = (raw.headers or {}).get("Nats-Msg-Id", "")
        return raw.subject == subjects.seat(runner, seat) and \
            msg_id.split(".", 1)[0] == execution_id

    async def free_seat(self, runner: str, seat: int, seq: int) -> None:
        """Empty the runner token ``runner``'s seat of the message at ``seq`` and any older
        (nothing newer: a repeated relay leaves the seat's next job alone)."""
        await self._js.purge_stream(subjects.SEATS_STREAM, subject=subjects.seat(runner, seat),
                                    seq=seq + 1)

    async def already_completed(self, execution_id: str) -> bool:
        try:
            await self._js.get_last_msg(
                subjects.COMPLETIONS_STREAM, subjects.completed(execution_id))
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def publish_completion(self, completion: CompletionEvent) -> None:
        await self._js.publish(
            subjects.completed(completion.execution_id),
            encode(completion),
            headers={"Nats-Msg-Id": completion.execution_id},
        )

    async def stop_fetching(self) -> int:
        """End this dispatcher's polls on the queue (a job given back is not sent to a
        request of this dispatcher still open at the server), and give back the jobs they
        brought that were not taken; returns how many."""
        given = 0
        for poll in self._polls.values():
            for msg in await poll.close():
                with contextlib.suppress(Exception):  # NATS gone: the ack wait brings it back
                    await self.give_back(msg)
                    given += 1
        return given

    async def give_back(self, msg: Msg) -> None:
        """Negative-ack a held job and wait until JetStream has taken it back (a ``-NAK`` sent
        as a request is answered once done; ``msg.nak()`` is fire and forget)."""
        if msg.reply:
            await self._nc.request(msg.reply, b"-NAK", timeout=GIVE_BACK_S)

    async def slot_holder(self, execution_id: str) -> str | None:
        """The runner token a job's slot names (the runner it was given to), or None."""
        try:
            msg = await self._js.get_last_msg(subjects.SLOTS_STREAM,
                                              subjects.slot(execution_id))
        except nats.js.errors.NotFoundError:
            return None
        return (msg.data or b"").decode()

    async def _slot_names(self, execution_id: str, runner: str) -> bool:
        """Whether the job's slot names the runner token ``runner``. A slot not found, of a
        job not completed, is looked for again (``SLOT_LOOKS_AGAIN_S``): with no cap set, a
        release is published with its slot, not after it (``dispatcher/loop.py`` ``_send``),
        and another stream may store, hand out and finish the job first."""
        for wait in SLOT_LOOKS_AGAIN_S:
            holder = await self.slot_holder(execution_id)
            if holder is not None:
                return holder == runner
            if await self.already_completed(execution_id):
                return False
            await asyncio.sleep(wait)
        return await self.slot_holder(execution_id) == runner

    async def relay_runner_completions(
            self, given_to: Callable[[str], str | None] = lambda _: None) -> None:
        """Publish the completions runners ask for (``subjects.runner_completed``), each only
        when its job was given to the runner asking: one runner cannot end another's job.
        ``given_to`` names the runner an execution was given to, as this dispatcher knows (no
        I/O, on the path of every completion: its own releases and those it heard another
        make); the job's slot is read only when it names another or none (a release not heard,
        or a job moved since)."""

        async def on_msg(msg: Msg) -> None:
            runner, execution_id = subjects.runner_and_execution(msg.subject)
            try:
                completion = completion_decoder.decode(msg.data)
            except msgspec.ValidationError as exc:
                await msg.respond(f"not a completion: {exc}".encode())
                return
            seat = seat_of_request((msg.headers or {}).get(subjects.SEAT_HEADER))
            heard = _token(given_to(execution_id)) == runner
            if completion.execution_id != execution_id:
                await msg.respond(b"the completion is of another execution")
            elif seat is not None and (heard
                                       or await self._seat_holds(execution_id, runner, *seat)):
                # The seat is free before anyone hears the completion (a dispatcher that
                # hears it may give the seat at once).
                await self.free_seat(runner, *seat)
                await self.publish_completion(completion)
                await msg.respond(subjects.COMPLETION_RELAYED)
            elif seat is None and (heard or await self._slot_names(execution_id, runner)):
                await self.publish_completion(completion)
                await msg.respond(subjects.COMPLETION_RELAYED)
            elif await self.already_completed(execution_id):
                await msg.respond(subjects.COMPLETION_RELAYED)  # a repeat: nothing to do
            else:
                log.warning("runner %s asked to complete %s, which it was not given",
                            runner, execution_id)
                await msg.respond(b"this job was not given to this runner")

        await self._nc.subscribe(subjects.RUNNER_COMPLETIONS, queue=subjects.COMPLETION_RELAY,
                                 cb=self._at_once(on_msg))

    async def on_completion(self, handler: Callable[[CompletionEvent], Awaitable[None]]) -> None:
        async def on_msg(msg: Msg) -> None:
            try:
                await handler(completion_decoder.decode(msg.data))
            except msgspec.ValidationError:
                log.warning("ignoring a malformed completion on %s", msg.subject)

        await self._nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=self._at_once(on_msg))

    async def on_slot_taken(self, handler: Callable[[str, str], None]) -> None:
        """Every slot a dispatcher takes (this one's too) as it is taken: the execution id and
        the ``runner_token`` of the runner it was given to. A plain subscription on the SLOTS
        stream's subjects: a JetStream publish reaches it too (a refused one as well)."""

        async def on_msg(msg: Msg) -> None:
            handler(subjects.execution_of_slot(msg.subject), msg.data.decode())

        await self._nc.subscribe(subjects.SLOTS_SUBJECTS, cb=on_msg)

    async def on_stop(self, handler: Callable[[str], Awaitable[None]]) -> None:
        async def on_msg(msg: Msg) -> None:
            try:
                control = control_decoder.decode(msg.data)
            except msgspec.ValidationError:
                return
            if control.action == "stop":
                await handler(control.execution_id)

        await self._nc.subscribe(subjects.control("*"), cb=on_msg)

    async def on_dead_letter(self, handler: Callable[[Job], Awaitable[None]]) -> None:
        """Jobs that reached max deliveries on a runner's consumer, removed from RUN or SEATS."""
        for stream in (subjects.RUN_STREAM, subjects.SEATS_STREAM):
            await self._nc.subscribe(subjects.max_deliveries_advisory(stream),
                                     cb=self._dead_letters_of(stream, handler))

    def _dead_letters_of(self, stream: str, handler: Callable[[Job], Awaitable[None]]
                         ) -> Callable[[Msg], Awaitable[None]]:
        async def on_msg(msg: Msg) -> None:
            seq = msgspec.json.decode(msg.data, type=_Advisory).stream_seq
            try:
                raw = await self._js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                return
            await self._js.delete_msg(stream, seq)
            if not raw.data:
                return
            try:
                job = job_decoder.decode(raw.data)
            except msgspec.DecodeError as exc:
                completion = undecodable_job(raw.data, str(exc))
                if completion is not None:
                    await self.publish_completion(completion)
                return
            await handler(job)

        return on_msg

    async def pending(self) -> dict[int, int]:
        """Jobs per priority still in JOBS that no dispatcher has fetched yet."""
        counts: dict[int, int] = {}
        for priority in subjects.PRIORITIES:
            info = await self._js.consumer_info(
                subjects.JOBS_STREAM, subjects.dispatcher_consumer(priority)
            )
            counts[priority] = info.num_pending or 0
        return counts

    async def tell_edges(self, state: PlacementState) -> None:
        """Every edge hears whether a job waits here (core NATS, at most once)."""
        await self._nc.publish(subjects.PLACEMENT_STATE, encode(state))

    async def on_stats_request(self, handler: Callable[[], Awaitable[QueueStats]]) -> None:
        async def on_msg(msg: Msg) -> None:
            try:
                await msg.respond(encode(await handler()))
            except Exception as exc:  # NATS reconnecting, say: the asker times out
                log.warning("answering a stats request failed: %s", exc)

        await self._nc.subscribe(subjects.QUEUE_STATS, cb=on_msg)

    async def close(self) -> None:
        """Flush what was published, then close (a drain would wait out pending long polls)."""
        if self._redeclaring is not None:
            self._redeclaring.cancel()
        if not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
            await self._nc.close()

"""The runner's side of NATS: the only runner module that touches nats-py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from contracts import subjects
from contracts.judging import MAX_STORED_OBJECT_BYTES, JudgementResult
from contracts.language_servers import (
    LspCommand,
    LspReply,
    LspStart,
    lsp_command_decoder,
    lsp_start_decoder,
)
from contracts.messages import (
    CompletionEvent,
    Control,
    ControlReply,
    DrainReply,
    ExecutionEvent,
    Job,
    NotebookCommand,
    NotebookReply,
    RunnerInfo,
    StoredOutput,
    control_decoder,
    encode,
    job_decoder,
    notebook_command_decoder,
    undecodable_job,
)
from contracts.nats_options import NatsOptions, connect_options
from contracts.session_control import SessionCommand, SessionResources
from runners.judging.fit import fit_judgement

log = logging.getLogger(__name__)
Request = TypeVar("Request")
Answer = TypeVar("Answer")
COMPLETION_REPLY_S = 5.0
OUTAGE_TRIES = 120
OUTAGE_RETRY_S = 0.5
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError, nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError, nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError, TimeoutError)
"""What a request or a store into JetStream raises while the nats-server restarts, a cluster
elects a leader or no dispatcher answers (they restart): a finished job's result and its
completion are tried again after ``OUTAGE_RETRY_S``, up to ``OUTAGE_TRIES`` times
(``through_outage``): a minute when each try fails at once, some 11 minutes when each waits
out its 5 s timeout."""
ControlHandler = Callable[[Control], Awaitable[ControlReply]]
NotebookHandler = Callable[[NotebookCommand], Awaitable[NotebookReply]]
CONTROL_PENDING_BYTES = 16 * 1024 * 1024
"""What a run's control subscription may hold unhandled (two of the largest messages): its
handler never waits, so this is only a bound on the runner's memory, never reached in use."""
FETCH_TIMEOUT_S = 5.0
"""A long poll: answered at once when a job arrives; short enough that a pull request lost in
a NATS reconnect stalls the queue for seconds, not minutes."""
RUN_LOOK_EVERY_S = 5.0
"""How often a runner that takes its jobs from its seats also looks at its RUN consumer's
counts (jobs released there before it had seats, or by an older dispatcher, or claimed and not
acked by its last process), off the claim's way, so that its next claims take them."""
RUN_LOOK_S = 0.05
"""How long it waits for a job its RUN consumer counts (one claimed by its last process comes
back only once its ack wait is over)."""


class CompletionNotRelayed(RuntimeError):
    """No dispatcher took a completion: the job is left unacknowledged (redelivered after the
    ack wait; a redelivery of a job that did complete is not run again)."""


class CompletionRefused(RuntimeError):
    """A dispatcher would not publish a completion (the job's slot names another runner, or
    none): the job is left unacknowledged, so that its redelivery or its move off this runner
    ends it (a slot lost by the dispatchers' bookkeeping must not lose the completion)."""

    def __init__(self, execution_id: str, reason: str) -> None:
        super().__init__(f"the completion of {execution_id} was refused: {reason}")
        self.execution_id = execution_id
        self.reason = reason


class ClaimedJob:
    """A job taken from one of this runner's seats (SEATS) or its RUN subject; acked only
    after its completion is published."""

    def __init__(self, msg: Msg, job: Job) -> None:
        self._msg = msg
        self.job = job
        self.claimed_at = time.time()

    @property
    def released_at(self) -> float:
        """When a dispatcher handed the job to this runner (its RUN message's stored time, Unix
        seconds): ``coderunner bench --fleet`` measures placement with it."""
        return self._msg.metadata.timestamp.timestamp()

    @property
    def seat(self) -> str | None:
        """``<seat> <stream sequence>`` of a job taken from a seat (``subjects.SEAT_HEADER``:
        the dispatcher relaying its completion frees the seat), None for one from RUN."""
        return seat_of_message(self._msg)

    @property
    def deliveries(self) -> int:
        """How many times the job was handed to a runner, this time included (a job moved
        off a silent runner counts its deliveries there too)."""
        before = int((self._msg.headers or {}).get(subjects.ATTEMPT_HEADER, 0))
        return before + (self._msg.metadata.num_delivered or 1)

    async def in_progress(self) -> None:
        await self._msg.in_progress()

    async def ack(self) -> None:
        await self._msg.ack()


def seat_of_message(msg: Msg) -> str | None:
    """``<seat> <stream sequence>`` of a job's message on a seat; None for one on RUN."""
    seat = subjects.seat_number(msg.subject)
    return None if seat is None else f"{seat} {msg.metadata.sequence.stream}"


class RunnerBus:
    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self._nc = nc
        self._js = js
        self._pull: JetStreamContext.PullSubscription | None = None
        self._seats: JetStreamContext.PullSubscription | None = None
        """This runner's consumer on SEATS, when a dispatcher made one (newer dispatchers do)."""
        self._run_waiting = True
        """Its RUN consumer held jobs at the last look (at start: jobs of its last process)."""
        self._watching: asyncio.Task[None] | None = None
        self._runner_id: str | None = None
        self._kv: KeyValue | None = None
        self._results: KeyValue | None = None
        self._problems: ObjectStore | None = None
        self.ack_wait_s = 30.0
        """This runner's consumer's ack wait, read when it binds."""

    @property
    def progress_every_s(self) -> float:
        """How often a running job's claim is renewed: a third of the ack wait."""
        return self.ack_wait_s / 3

    @classmethod
    async def connect(cls, url: str, name: str, options: NatsOptions | None = None,
                      inbox_prefix: str = "") -> RunnerBus:
        nc = await nats.connect(
            **connect_options(url, options or NatsOptions(), name, inbox_prefix),
            max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        return cls(nc, nc.jetstream())

    async def bind(self, runner_id: str) -> None:
        """Bind to this runner's consumers, waiting for a dispatcher to make them (it does when
        this runner's first heartbeat arrives; again when they were removed as silent): on RUN,
        and on SEATS when the dispatchers make one (older ones do not: jobs come on RUN)."""
        self._runner_id = runner_id
        consumer = subjects.runner_consumer(runner_id)
        waited = 0
        while True:
            try:
                info = await self._js.consumer_info(subjects.RUN_STREAM, consumer)
                for pull in (self._pull, self._seats):
                    if pull is not None:
                        with contextlib.suppress(nats.errors.Error):
                            await pull.unsubscribe()
                self._pull = await self._js.pull_subscribe_bind(consumer, subjects.RUN_STREAM)
                self._seats = await self._bind_seats(consumer)
                self.ack_wait_s = info.config.ack_wait or 30.0
                if self._watching is None:
                    self._watching = asyncio.create_task(self._watch_run())
                return
            except nats.js.errors.NotFoundError:
                waited += 1
                if waited % 150 == 0:
                    log.warning("no dispatcher has made consumer %s yet; waiting", consumer)
            except (nats.errors.Error, TimeoutError) as exc:  # NATS busy or electing a leader
                log.warning("binding to consumer %s failed: %s; retrying", consumer, exc)
            await asyncio.sleep(0.2)

    async def _bind_seats(self, consumer: str) -> JetStreamContext.PullSubscription | None:
        try:
            await self._js.consumer_info(subjects.SEATS_STREAM, consumer)
        except nats.js.errors.NotFoundError:
            return None
        return await self._js.pull_subscribe_bind(consumer, subjects.SEATS_STREAM)

    async def claim(self) -> ClaimedJob | None:
        """Long-poll for one job, from this runner's seats (first from RUN while its last look
        found jobs there) or from RUN alone without seats; None when none arrived within the
        poll window."""
        assert self._pull is not None and self._runner_id is not None, "bind() first"
        msg = None
        if self._seats is not None and self._run_waiting:
            msg = await self._fetch(self._pull, RUN_LOOK_S)
            self._run_waiting = msg is not None  # until the next look says otherwise
        if msg is None:
            msg = await self._fetch(self._seats or self._pull, FETCH_TIMEOUT_S)
        return None if msg is None else await self._claimed(msg)

    async def _watch_run(self) -> None:
        """Every ``RUN_LOOK_EVERY_S``: whether its RUN consumer holds jobs and, while it has no
        consumer on SEATS, whether a (newer) dispatcher made one since."""
        while True:
            await asyncio.sleep(RUN_LOOK_EVERY_S)
            assert self._runner_id is not None
            try:
                if self._seats is None:
                    self._seats = await self._bind_seats(
                        subjects.runner_consumer(self._runner_id))
                else:
                    self._run_waiting = self._run_waiting or await self._run_holds_jobs()
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                log.warning("looking at this runner's RUN consumer failed: %s", exc)

    async def _run_holds_jobs(self) -> bool:
        assert self._runner_id is not None
        try:
            info = await self._js.consumer_info(subjects.RUN_STREAM,
                                                subjects.runner_consumer(self._runner_id))
        except nats.js.errors.NotFoundError:
            return False
        return bool(info.num_pending or info.num_ack_pending)

    async def _fetch(self, pull: JetStreamContext.PullSubscription,
                     timeout_s: float) -> Msg | None:
        assert self._runner_id is not None
        try:
            return (await pull.fetch(1, timeout=timeout_s))[0]
        except TimeoutError:  # nats-py raises its own or the builtin one
            return None
        except (nats.js.errors.APIError, nats.errors.NoRespondersError):
            if await self._consumer_exists():
                raise
            # A dispatcher took this runner for gone and removed its consumer: wait for anew.
            log.warning("this runner's consumer was removed; binding again")
            await self.bind(self._runner_id)
            return None

    async def _claimed(self, msg: Msg) -> ClaimedJob | None:
        try:
            job = job_decoder.decode(msg.data)
        except ValueError as exc:  # msgspec.DecodeError: a kind of job this version lacks?
            log.error("ending a job this runner cannot decode: %s", exc)
            completion = undecodable_job(msg.data, str(exc))
            try:
                if completion is not None:
                    await self.publish_completion(completion, seat_of_message(msg))
            except CompletionRefused as refused:  # redelivered, then ended by a dispatcher
                log.error("%s; leaving the job unacknowledged", refused)
                return None
            await msg.term()
            return None
        if await self._moved_meanwhile(msg, job.execution_id):
            log.warning("job %s waited here past the ack wait and was moved to another runner "
                        "(or completed there) meanwhile: not running it", job.execution_id)
            return None
        return ClaimedJob(msg, job)

    async def _moved_meanwhile(self, msg: Msg, execution_id: str) -> bool:
        """A job handed to this runner longer than its consumer's ack wait ago (the runner
        was paused, or a pull it gave up on was answered late) may have been taken by a
        dispatcher for another runner: then its seat no longer holds it, or (on RUN) its slot
        names another runner, or none (it waits again, or it completed: then it is acked,
        never run twice). Read from the seat (this runner's own subjects) or the slot, not
        from the whole of SEATS or RUN, which hold every job's source and stdin."""
        assert self._runner_id is not None
        if time.time() - msg.metadata.timestamp.timestamp() <= self.ack_wait_s:
            return False
        if subjects.seat_number(msg.subject) is not None:
            return await self._not_on_its_seat(msg, execution_id)
        try:
            slot = await self._js.get_last_msg(subjects.SLOTS_STREAM, subjects.slot(execution_id))
        except nats.js.errors.NotFoundError:
            if await self.already_completed(execution_id):
                await msg.ack()
            return True
        return (slot.data or b"").decode() != subjects.runner_token(self._runner_id)

    async def _not_on_its_seat(self, msg: Msg, execution_id: str) -> bool:
        try:
            held = await self._js.get_last_msg(subjects.SEATS_STREAM, msg.subject, direct=True)
        except nats.js.errors.NotFoundError:
            held = None
        if held is not None and held.seq == msg.metadata.sequence.stream:
            return False
        if await self.already_completed(execution_id):
            await msg.ack()
        return True

    async def _consumer_exists(self) -> bool:
        assert self._runner_id is not None
        try:
            await self._js.consumer_info(
                subjects.RUN_STREAM, subjects.runner_consumer(self._runner_id))
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def heartbeat(self, info: RunnerInfo) -> None:
        """Put this runner's entry in the runners bucket (it expires unless refreshed)."""
        if self._kv is None:
            self._kv = await self._js.key_value(subjects.RUNNERS_BUCKET)
        await self._kv.put(info.runner_id, encode(info))

    async def leave(self, runner_id: str) -> None:
        """Delete this runner's heartbeat: dispatchers send it nothing more, at once."""
        if self._kv is not None:
            with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
                await self._kv.delete(runner_id)

    async def _executions(self) -> KeyValue:
        if self._results is None:
            self._results = await self._js.key_value(subjects.EXECUTIONS_BUCKET)
        return self._results

    async def mark_running(self, execution_id: str) -> None:
        """Tell the HTTP API that a ``keepOutput`` job runs (its status moves to running)."""
        await (await self._executions()).put(subjects.running_key(execution_id), b"1")

    async def put_output(self, execution_id: str, output: StoredOutput) -> None:
        """Store a ``keepOutput`` job's output, trimmed to fit one NATS message."""
        data = fit_output(output, self._nc.max_payload - 4096)
        await self._put_result(subjects.output_key(execution_id), data)

    async def put_judgement(self, execution_id: str, result: JudgementResult) -> None:
        """Store a judgement's result for the HTTP API, trimmed to fit one NATS message."""
        data = fit_judgement(result, self._nc.max_payload - 4096)
        await self._put_result(subjects.judgement_key(execution_id), data)

    async def _put_result(self, key: str, data: bytes) -> None:
        """Store a finished job's result in the executions bucket, through a NATS outage:
        left unstored, the job would stay unacknowledged and run again after the ack wait."""
        async def put() -> int:
            return await (await self._executions()).put(key, data)

        await through_outage(put, f"storing {key}")

    async def problem_data(self, sha256: str) -> bytes | None:
        """A stored test's input or answer (``subjects.PROBLEMS_STORE``), None when missing
        or larger than a stored object may be."""
        try:
            if self._problems is None:  # opened once (a judgement may fetch 2000 objects)
                self._problems = await self._js.object_store(subjects.PROBLEMS_STORE)
            store = self._problems
            info = await store.get_info(sha256)
            if (info.size or 0) > MAX_STORED_OBJECT_BYTES:
                return None
            return bytes((await store.get(sha256)).data or b"")
        except (nats.js.errors.NotFoundError, nats.js.errors.ObjectNotFoundError,
                nats.js.errors.BucketNotFoundError):
            return None

    async def already_completed(self, execution_id: str) -> bool:
        try:
            await self._js.get_last_msg(
                subjects.COMPLETIONS_STREAM, subjects.completed(execution_id)
            )
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def publish_event(self, event: ExecutionEvent) -> None:
        await self._nc.publish(subjects.events(event.execution_id), encode(event))

    async def publish_completion(self, completion: CompletionEvent,
                                 seat: str | None = None) -> None:
        """Ask a dispatcher to publish a completion of a job given to this runner (a secured
        NATS lets a runner publish completions no other way), naming the job's ``seat`` when
        it came from one (``ClaimedJob.seat``: the dispatcher frees it first); retried while no
        dispatcher answers (they restart, say) or NATS is down (``through_outage``);
        ``CompletionRefused`` when a dispatcher answers no."""
        assert self._runner_id is not None, "bind() first"
        subject = subjects.runner_completed(self._runner_id, completion.execution_id)
        data = encode(completion)
        headers = {subjects.SEAT_HEADER: seat} if seat is not None else None

        async def ask() -> bytes:
            return (await self._nc.request(subject, data, timeout=COMPLETION_REPLY_S,
                                           headers=headers)).data

        try:
            reply = await through_outage(ask, f"relaying {completion.execution_id}'s completion")
        except OUTAGE_ERRORS as exc:
            raise CompletionNotRelayed(completion.execution_id) from exc
        if reply != subjects.COMPLETION_RELAYED:
            raise CompletionRefused(completion.execution_id, reply.decode(errors="replace"))

    async def on_drain(self, runner_id: str, drain: Callable[[], Awaitable[int]]) -> None:
        """Answer ``coderunner runner drain`` (``subjects.runner_drain``): drain, and say how
        many jobs still run."""
        async def on_msg(msg: Msg) -> None:
            await msg.respond(encode(DrainReply(running=await drain())))

        await self._nc.subscribe(subjects.runner_drain(runner_id), cb=on_msg)

    async def subscribe_control(self, execution_id: str, handler: ControlHandler) -> Subscription:
        """Pass stdin, eof and stop for one execution to ``handler``; its answer goes back to
        an edge that asked with a request (the edge then tells the client of a refusal)."""
        async def on_msg(msg: Msg) -> None:
            try:
                reply = await handler(control_decoder.decode(msg.data))
            except ValueError as exc:
                log.warning("ignoring a malformed control message: %s", exc)
                reply = ControlReply(False, "invalid_request", str(exc))
            if msg.reply:
                with contextlib.suppress(nats.errors.Error):
                    await msg.respond(encode(reply))

        return await self._nc.subscribe(subjects.control(execution_id), cb=on_msg,
                                        pending_bytes_limit=CONTROL_PENDING_BYTES)

    async def subscribe_sessions(
        self, handler: Callable[[SessionCommand], Awaitable[SessionResources]],
    ) -> Subscription:
        """Answer every edge's session commands (each runner answers for what it holds)."""

        decode = msgspec.json.Decoder(SessionCommand).decode
        return await self._nc.subscribe(
            subjects.SESSION_CONTROL, cb=answering(decode, handler, "session command"))

    async def subscribe_lsp_starts(
        self, servers: list[str], handler: Callable[[LspStart], Awaitable[LspReply]],
    ) -> list[Subscription]:
        """Take part in starting these language servers (one runner of the queue group answers
        each ``initialize``)."""

        on_msg = answering(lsp_start_decoder.decode, handler, "language server start")
        return [await self._nc.subscribe(subjects.lsp_start(server), queue=subjects.LSP_STARTERS,
                                         cb=on_msg) for server in servers]

    async def subscribe_lsp(self, key: str,
                            handler: Callable[[LspCommand], Awaitable[LspReply]]) -> Subscription:
        """Take the browser's messages for language server ``key``, which this runner holds."""

        on_msg = answering(lsp_command_decoder.decode, handler, "language server command")
        return await self._nc.subscribe(subjects.lsp_in(key), cb=on_msg,
                                        pending_bytes_limit=CONTROL_PENDING_BYTES)

    async def publish_lsp(self, key: str, event: bytes) -> None:
        """A language server's message or state, for the socket that started it."""
        await self._nc.publish(subjects.lsp_out(key), event)

    async def subscribe_notebook(self, key: str, handler: NotebookHandler) -> Subscription:
        """Answer interrupt, restart and close for the kernel of notebook ``key``."""

        on_msg = answering(notebook_command_decoder.decode, handler, "notebook command")
        return await self._nc.subscribe(subjects.notebook_control(key), cb=on_msg)

    async def close(self) -> None:
        """Flush what was published, then close (a drain would wait out pending long polls)."""
        if self._watching is not None:
            self._watching.cancel()
        if not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
            await self._nc.close()


async def through_outage(step: Callable[[], Awaitable[Answer]], what: str) -> Answer:
    """``step``, tried again through a NATS outage (``OUTAGE_ERRORS``): what a runner does
    after a job ran, whose claim ``Runner._keep_claim`` keeps meanwhile. The last try's
    error is raised; any other at once."""
    for attempt in range(1, OUTAGE_TRIES + 1):
        try:
            return await step()
        except OUTAGE_ERRORS as exc:
            if attempt == OUTAGE_TRIES:
                raise
            if attempt == 1:
                log.warning("%s failed (%s); trying again", what, exc)
            await asyncio.sleep(OUTAGE_RETRY_S)
    raise AssertionError("unreachable: the last try returns or raises")


def fit_output(output: StoredOutput, max_bytes: int) -> bytes:
    """The output's JSON, with notebook outputs and tables dropped (the last first) and then
    the longer stream halved until it fits ``max_bytes`` (so a short stderr survives a flood on
    stdout)."""
    data = encode(output)
    while len(data) > max_bytes:
        if output.outputs:
            output = msgspec.structs.replace(output, outputs=output.outputs[:-1], truncated=True)
        elif output.tables:
            output = msgspec.structs.replace(output, tables=output.tables[:-1], truncated=True)
        elif not output.stdout and not output.stderr:
            raise ValueError(f"{max_bytes} bytes cannot hold even an empty output")
        elif len(output.stdout) >= len(output.stderr):
            output = msgspec.structs.replace(
                output, stdout=output.stdout[: len(output.stdout) // 2], truncated=True)
        else:
            output = msgspec.structs.replace(
                output, stderr=output.stderr[: len(output.stderr) // 2], truncated=True)
        data = encode(output)
    return data


def answering(decode: Callable[[bytes], Request], handler: Callable[[Request], Awaitable[Any]],
              what: str) -> Callable[[Msg], Awaitable[None]]:
    """A request subscription's callback: the request decoded once (a malformed one is logged
    and dropped: nobody answers), ``handler``'s answer sent to whoever asked."""

    async def on_msg(msg: Msg) -> None:
        try:
            request = decode(msg.data)
        except ValueError as exc:  # msgspec's DecodeError and ValidationError
            log.warning("ignoring a malformed %s: %s", what, exc)
            return
        reply = await handler(request)
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):  # the asker went away
                await msg.respond(encode(reply))

    return on_msg

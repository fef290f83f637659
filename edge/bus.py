"""The edge's side of NATS: submit jobs, watch their events, send control messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.kv import KeyValue

from contracts import subjects
from contracts.messages import (
    CompletionEvent,
    Control,
    ControlReply,
    ExecutionRecord,
    Job,
    NotebookCommand,
    NotebookRecord,
    NotebookReply,
    QueueStats,
    RunnerInfo,
    StoredOutput,
    WebhookState,
    completion_decoder,
    encode,
    notebook_record_decoder,
    notebook_reply_decoder,
    queue_stats_decoder,
    record_decoder,
    runner_info_decoder,
    stored_output_decoder,
    webhook_state_decoder,
)
from contracts.settings import nats_servers

log = logging.getLogger(__name__)
T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
EventHandler = Callable[[bytes, bool], Awaitable[None]]
"""Called with an event's JSON and whether it is the completion (the last event)."""
MAX_MESSAGES_EXCEEDED = 10077
LIMITS_TIMEOUT_S = 2.0
CONTROL_TIMEOUT_S = 2.0
"""How long the edge waits for the runner to take a stdin, eof or stop it passes on."""
LIMITS_ATTEMPTS = 50


class SubmitError(Exception):
    """The job could not be queued."""

    code = "internal_error"


class QueueFull(SubmitError):
    """The queue is at capacity; try again later."""

    code = "queue_full"


class NotReady(SubmitError):
    """The platform is not ready: no dispatcher has created the queue yet."""

    code = "not_ready"


class Watch:
    """The subscription that carries one execution's events to the edge, in order."""

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    async def close(self) -> None:
        try:
            await self._sub.unsubscribe()
        except nats.errors.BadSubscriptionError:
            pass


class CompletionWaiter:
    """A subscription to one execution's completion, made before the job is submitted."""

    def __init__(self) -> None:
        self.done: asyncio.Future[CompletionEvent] = asyncio.get_running_loop().create_future()
        self.sub: Subscription | None = None

    async def wait(self, timeout_s: float) -> CompletionEvent | None:
        try:
            return await asyncio.wait_for(asyncio.shield(self.done), timeout_s)
        except TimeoutError:
            return None

    async def close(self) -> None:
        if self.sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self.sub.unsubscribe()


class WebhookMsg:
    """A completion handed to this edge's webhook deliverer."""

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        self.execution_id = subjects.execution_of_completion(msg.subject)
        self.number = msg.metadata.num_delivered or 1
        try:
            self.wanted = completion_decoder.decode(msg.data).webhook
        except ValueError:
            self.wanted = False

    async def ack(self) -> None:
        await self._msg.ack()

    async def retry(self, delay_s: float) -> None:
        await self._msg.nak(delay=delay_s)


class EdgeBus:
    """Made with the app, connected in its lifespan (``connect``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc = Client()
        self._js: JetStreamContext = self._nc.jetstream()
        self._kv: KeyValue | None = None
        self._limits: KeyValue | None = None
        self._limit_locks: dict[str, asyncio.Lock] = {}
        self._webhooks: JetStreamContext.PullSubscription | None = None

    async def connect(self, once: bool = False) -> None:
        """Connect, retrying for ever (a service) or failing at once (``once``: a CLI)."""
        if once:
            self._nc = await asyncio.wait_for(nats.connect(
                nats_servers(self.url), name="edge-cli", allow_reconnect=False, connect_timeout=2,
                error_cb=_quiet,
            ), 5)
        else:
            self._nc = await nats.connect(
                nats_servers(self.url), name="edge", max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
            )
        self._js = self._nc.jetstream()

    async def submit(self, job: Job) -> None:
        try:
            await self._js.publish(
                subjects.job_submit(job.priority),
                encode(job),
                headers={"Nats-Msg-Id": job.execution_id},
                timeout=5,
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == MAX_MESSAGES_EXCEEDED:
                raise QueueFull(QueueFull.__doc__) from exc
            raise SubmitError(f"the queue refused the job: {exc.description}") from exc
        except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError) as exc:
            raise NotReady(NotReady.__doc__) from exc
        except nats.errors.TimeoutError as exc:
            raise NotReady("the queue did not answer in time") from exc

    async def watch(self, execution_id: str, handler: EventHandler) -> Watch:
        async def on_msg(msg: Msg) -> None:
            if subjects.is_event(msg.subject):
                await handler(msg.data, False)
            elif subjects.is_completion(msg.subject):
                await handler(msg.data, True)

        return Watch(await self._nc.subscribe(subjects.everything_of(execution_id), cb=on_msg))

    async def queue_ready(self) -> bool:
        """Whether the dispatcher finished setting up: the results bucket, which it makes last
        (after the queue's streams and consumers), exists."""
        try:
            await self._js.stream_info(subjects.kv_stream(subjects.EXECUTIONS_BUCKET))
        except (nats.js.errors.NotFoundError, nats.errors.TimeoutError,
                nats.errors.NoRespondersError):
            return False
        return True

    async def runners(self) -> list[RunnerInfo]:
        """The runners whose heartbeat has not expired."""
        try:
            kv = await self._js.key_value(subjects.RUNNERS_BUCKET)
            keys = await kv.keys()
        except (nats.js.errors.BucketNotFoundError, nats.js.errors.NoKeysError):
            return []
        infos = []
        for key in keys:
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                continue
            if entry.value:
                infos.append(runner_info_decoder.decode(entry.value))
        return infos

    # --- the HTTP API's records (bucket ``executions``) -----------------------------------------

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(subjects.EXECUTIONS_BUCKET)
            except nats.js.errors.BucketNotFoundError as exc:
                raise NotReady(NotReady.__doc__) from exc
        return self._kv

    async def _get(self, key: str) -> bytes | None:
        try:
            entry = await (await self._bucket()).get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        return entry.value or None

    async def put_record(self, record: ExecutionRecord) -> None:
        await (await self._bucket()).put(subjects.record_key(record.execution_id), encode(record))

    async def delete_record(self, execution_id: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).delete(subjects.record_key(execution_id))

    async def record(self, execution_id: str) -> ExecutionRecord | None:
        data = await self._get(subjects.record_key(execution_id))
        return record_decoder.decode(data) if data else None

    async def output(self, execution_id: str) -> StoredOutput | None:
        data = await self._get(subjects.output_key(execution_id))
        return stored_output_decoder.decode(data) if data else None

    async def is_running(self, execution_id: str) -> bool:
        return await self._get(subjects.running_key(execution_id)) is not None

    async def webhook_state(self, execution_id: str) -> WebhookState | None:
        data = await self._get(subjects.webhook_key(execution_id))
        return webhook_state_decoder.decode(data) if data else None

    async def put_webhook_state(self, execution_id: str, state: WebhookState) -> None:
        await (await self._bucket()).put(subjects.webhook_key(execution_id), encode(state))

    async def value(self, key: str) -> bytes | None:
        """Any entry of the ``executions`` bucket (the compatible APIs' own keys)."""
        return await self._get(key)

    async def put_value(self, key: str, value: bytes) -> None:
        await (await self._bucket()).put(key, value)

    async def delete_value(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).delete(key)

    async def change_value(self, key: str, change: Callable[[bytes | None], bytes]) -> None:
        """Store what ``change`` makes of an ``executions`` entry, with compare-and-set."""
        kv = await self._bucket()
        for _ in range(LIMITS_ATTEMPTS):
            try:
                entry = await kv.get(key)
                value, revision = entry.value or None, entry.revision or 0
            except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
                value, revision = None, 0
            try:
                if revision:
                    await kv.update(key, change(value), last=revision)
                else:
                    await kv.create(key, change(value))
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
        raise NotReady(f"{key} kept changing under this edge; try again")

    async def claim_idempotency(self, digest: str, value: bytes) -> bytes | None:
        """Store ``value`` under an idempotency key unless it is taken; the taken value else."""
        key = subjects.idempotency_key(digest)
        try:
            await (await self._bucket()).create(key, value)
            return None
        except nats.js.errors.KeyWrongLastSequenceError:
            return await self._get(key) or b"{}"

    async def release_idempotency(self, digest: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).purge(subjects.idempotency_key(digest))

    async def completion(self, execution_id: str) -> CompletionEvent | None:
        """The stored completion of an execution (kept for a day), or None."""
        try:
            raw = await self._js.get_last_msg(
                subjects.COMPLETIONS_STREAM, subjects.completed(execution_id)
            )
        except nats.js.errors.NotFoundError:
            return None
        return completion_decoder.decode(raw.data) if raw.data else None

    async def completion_waiter(self, execution_id: str) -> CompletionWaiter:
        waiter = CompletionWaiter()

        async def on_msg(msg: Msg) -> None:
            if not waiter.done.done():
                waiter.done.set_result(completion_decoder.decode(msg.data))

        waiter.sub = await self._nc.subscribe(subjects.completed(execution_id), cb=on_msg)
        return waiter

    async def on_completions(self, handler: Callable[[CompletionEvent], None]) -> None:
        """Every completion, as it is published (for metrics and quotas)."""

        async def on_msg(msg: Msg) -> None:
            with contextlib.suppress(ValueError):
                handler(completion_decoder.decode(msg.data))

        await self._nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=on_msg)

    async def queue_stats(self, timeout_s: float = 0.25) -> list[QueueStats]:
        """Every dispatcher's answer that arrives within ``timeout_s``."""
        inbox = self._nc.new_inbox()
        answers: list[QueueStats] = []
        sub = await self._nc.subscribe(inbox)
        try:
            await self._nc.publish(subjects.QUEUE_STATS, b"", reply=inbox)
            deadline = asyncio.get_running_loop().time() + timeout_s
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=left)
                except TimeoutError:
                    break
                answers.append(queue_stats_decoder.decode(msg.data))
        finally:
            await sub.unsubscribe()
        return answers

    # --- the HTTP API's rate limits and quotas (bucket ``limits``) ------------------------------

    @contextlib.asynccontextmanager
    async def _reaching_limits(self) -> AsyncIterator[KeyValue]:
        """The limits bucket; NotReady when NATS does not answer (the API then refuses requests
        rather than serve them unlimited)."""
        try:
            if self._limits is None:
                js = self._nc.jetstream(timeout=LIMITS_TIMEOUT_S)
                self._limits = await js.key_value(subjects.LIMITS_BUCKET)
            yield self._limits
        except nats.js.errors.BucketNotFoundError as exc:
            raise NotReady(NotReady.__doc__) from exc
        except (nats.errors.Error, TimeoutError) as exc:
            raise NotReady(f"the store of rate limits and quotas did not answer ({exc!r}); "
                           "try again") from exc

    @staticmethod
    async def _limit_entry(kv: KeyValue, key: str, kind: type[T]) -> tuple[T | None, int]:
        """The stored value (None when there is none or it is not a ``kind``) and its revision
        (0: none)."""
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError as exc:  # also a deleted key, with its marker
            return None, exc.entry.revision if exc.entry else 0
        try:
            return msgspec.json.decode(entry.value or b"", type=kind), entry.revision or 0
        except msgspec.DecodeError:
            return None, entry.revision or 0

    async def read_limit(self, key: str, kind: type[T]) -> T | None:
        async with self._reaching_limits() as kv:
            return (await self._limit_entry(kv, key, kind))[0]

    async def change_limit(self, key: str, kind: type[T],
                           change: Callable[[T | None], tuple[T | None, R]]) -> R:
        """Store what ``change`` makes of the stored value, unless None, with compare-and-set:
        read and apply again when another edge changed it meanwhile (this edge's own changes
        of one key wait for each other instead). Returns ``change``'s second value."""
        async with self._limit_locks.setdefault(key, asyncio.Lock()), \
                self._reaching_limits() as kv:
            for _ in range(LIMITS_ATTEMPTS):
                value, revision = await self._limit_entry(kv, key, kind)
                new, result = change(value)
                if new is None:
                    return result
                try:
                    await kv.update(key, encode(new), last=revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
                return result
        raise NotReady(f"the limit {key} kept changing under this edge; try again")

    # --- webhooks ---------------------------------------------------------------------------------

    async def bind_webhooks(self, max_attempts: int, ack_wait_s: float) -> None:
        """Create (idempotently) and bind the shared ``webhooks`` consumer; NotReady until the
        dispatcher made the COMPLETIONS stream."""
        config = ConsumerConfig(
            durable_name=subjects.WEBHOOK_CONSUMER,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait_s,
            max_deliver=max_attempts + 2,
            max_ack_pending=1024,
        )
        try:
            await self._js.add_consumer(subjects.COMPLETIONS_STREAM, config)
            self._webhooks = await self._js.pull_subscribe_bind(
                subjects.WEBHOOK_CONSUMER, subjects.COMPLETIONS_STREAM
            )
        except nats.js.errors.NotFoundError as exc:
            raise NotReady(NotReady.__doc__) from exc

    async def webhook_batch(self, size: int) -> list[WebhookMsg]:
        assert self._webhooks is not None, "bind_webhooks() first"
        try:
            msgs = await self._webhooks.fetch(size, timeout=5.0)
        except TimeoutError:  # nats-py raises its own or the builtin one
            return []
        return [WebhookMsg(m) for m in msgs]

    # --- notebooks --------------------------------------------------------------------------------

    async def notebook_command(self, key: str, command: NotebookCommand,
                               timeout_s: float = 10.0) -> NotebookReply:
        """Ask the runner holding notebook ``key``'s kernel; ``none`` when no runner has it."""
        try:
            msg = await self._nc.request(subjects.notebook_control(key), encode(command),
                                         timeout=timeout_s)
        except nats.errors.NoRespondersError:
            return NotebookReply("none")
        except nats.errors.TimeoutError:
            return NotebookReply("none", "the runner holding the kernel did not answer")
        return notebook_reply_decoder.decode(msg.data)

    async def put_notebook(self, key: str, record: NotebookRecord) -> None:
        await (await self._bucket()).put(subjects.notebook_record_key(key), encode(record))

    async def notebook(self, key: str) -> NotebookRecord | None:
        data = await self._get(subjects.notebook_record_key(key))
        return notebook_record_decoder.decode(data) if data else None

    async def delete_notebook(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).delete(subjects.notebook_record_key(key))

    async def control(self, control: Control) -> None:
        await self._nc.publish(subjects.control(control.execution_id), encode(control))

    async def deliver_control(self, control: Control,
                              timeout_s: float = CONTROL_TIMEOUT_S) -> ControlReply:
        """Hand stdin, eof or stop to the runner running the execution and wait for its
        answer: taken, or refused (input past its window, or it no longer runs)."""
        try:
            msg = await self._nc.request(subjects.control(control.execution_id),
                                         encode(control), timeout=timeout_s)
        except nats.errors.NoRespondersError:
            return ControlReply(False, "not_found", "the execution is no longer running")
        except nats.errors.TimeoutError:
            return ControlReply(False, "not_found", f"no runner answered within {timeout_s} s:"
                                " the execution has finished, or its runner is unreachable")
        return msgspec.json.decode(msg.data, type=ControlReply)

    async def close(self) -> None:
        """Flush what was published, then close (a drain would wait out pending long polls)."""
        if not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
            await self._nc.close()


async def _quiet(exc: Exception) -> None:
    """A one-shot client reports its connection failure itself, without tracebacks."""

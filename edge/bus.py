"""The edge's side of NATS: submit jobs, watch their events, send control messages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from contracts import subjects
from contracts.messages import Control, Job, RunnerInfo, encode, runner_info_decoder

log = logging.getLogger(__name__)
EventHandler = Callable[[bytes, bool], Awaitable[None]]
"""Called with an event's JSON and whether it is the completion (the last event)."""
MAX_MESSAGES_EXCEEDED = 10077


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


class EdgeBus:
    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self._nc = nc
        self._js = js

    @classmethod
    async def connect(cls, url: str) -> EdgeBus:
        nc = await nats.connect(
            url, name="edge", max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )
        return cls(nc, nc.jetstream())

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
        """Whether the queue's stream exists, i.e. a submitted job would be accepted."""
        try:
            await self._js.stream_info(subjects.JOBS_STREAM)
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

    async def control(self, control: Control) -> None:
        await self._nc.publish(subjects.control(control.execution_id), encode(control))

    async def close(self) -> None:
        """Flush what was published, then close (a drain would wait out pending long polls)."""
        if not self._nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
            await self._nc.close()

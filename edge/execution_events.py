"""An execution's events and completion as they are published, and its stored completion."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from contracts.messages import CompletionEvent, completion_decoder
from edge.nats_connection import NatsConnection

EventHandler = Callable[[bytes, bool], Awaitable[None]]
"""Called with an event's JSON and whether it is the completion (the last event)."""


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


class ExecutionEvents:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def watch(self, execution_id: str, handler: EventHandler) -> Watch:
        async def on_msg(msg: Msg) -> None:
            if subjects.is_event(msg.subject):
                await handler(msg.data, False)
            elif subjects.is_completion(msg.subject):
                await handler(msg.data, True)

        nc = self._connection.client
        return Watch(await nc.subscribe(subjects.everything_of(execution_id), cb=on_msg))

    async def completion(self, execution_id: str) -> CompletionEvent | None:
        """The stored completion of an execution (kept for a day), or None."""
        try:
            raw = await self._connection.jetstream.get_last_msg(
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

        waiter.sub = await self._connection.client.subscribe(
            subjects.completed(execution_id), cb=on_msg)
        return waiter

    async def completion_within(self, execution_id: str, wait_s: float
                                ) -> CompletionEvent | None:
        """The execution's completion: stored already, or published within ``wait_s``."""
        waiter = await self.completion_waiter(execution_id)  # first: none is missed between
        try:
            completion = await self.completion(execution_id)
            if completion is None:
                # The completion as published: the stream may store it a moment later.
                completion = await waiter.wait(wait_s)
        finally:
            await waiter.close()
        return completion

    async def on_completions(self, handler: Callable[[CompletionEvent], None]) -> None:
        """Every completion, as it is published (for metrics and quotas)."""

        async def on_msg(msg: Msg) -> None:
            with contextlib.suppress(ValueError):
                handler(completion_decoder.decode(msg.data))

        await self._connection.client.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=on_msg)

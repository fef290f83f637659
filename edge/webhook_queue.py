"""The completions waiting for this edge's webhook deliverer: the ``webhooks`` consumer on the
COMPLETIONS stream, shared by every edge."""

from __future__ import annotations

import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.messages import completion_decoder
from edge.nats_connection import NatsConnection, NotReady


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


class WebhookQueue:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection
        self._pull: JetStreamContext.PullSubscription | None = None

    async def bind(self, max_attempts: int, ack_wait_s: float) -> None:
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
        js = self._connection.jetstream
        try:
            await js.add_consumer(subjects.COMPLETIONS_STREAM, config)
            self._pull = await js.pull_subscribe_bind(
                subjects.WEBHOOK_CONSUMER, subjects.COMPLETIONS_STREAM
            )
        except nats.js.errors.NotFoundError as exc:
            raise NotReady(NotReady.__doc__) from exc

    async def batch(self, size: int) -> list[WebhookMsg]:
        assert self._pull is not None, "bind() first"
        try:
            msgs = await self._pull.fetch(size, timeout=5.0)
        except TimeoutError:  # nats-py raises its own or the builtin one
            return []
        return [WebhookMsg(m) for m in msgs]

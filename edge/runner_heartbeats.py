"""The runners bucket, read by the edge: which runners are alive, with their runtimes."""

from __future__ import annotations

import nats.js.errors

from contracts import subjects
from contracts.messages import RunnerInfo, runner_info_decoder
from edge.kv_listing import kv_entries
from edge.nats_connection import NatsConnection


class RunnerHeartbeats:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def alive(self) -> list[RunnerInfo]:
        """The runners whose heartbeat has not expired (edge.kv_listing: never an early end)."""
        js = self._connection.jetstream
        try:
            kv = await js.key_value(subjects.RUNNERS_BUCKET)
            entries = await kv_entries(js, subjects.RUNNERS_BUCKET, kv, ">")
        except nats.js.errors.BucketNotFoundError:
            return []
        return [runner_info_decoder.decode(value) for _, value in entries if value]

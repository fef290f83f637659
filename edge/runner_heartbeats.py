"""The runners bucket, read by the edge: which runners are alive, with their runtimes."""

from __future__ import annotations

import nats.js.errors

from contracts import subjects
from contracts.messages import RunnerInfo, runner_info_decoder
from edge.nats_connection import NatsConnection


class RunnerHeartbeats:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def alive(self) -> list[RunnerInfo]:
        """The runners whose heartbeat has not expired."""
        try:
            kv = await self._connection.jetstream.key_value(subjects.RUNNERS_BUCKET)
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

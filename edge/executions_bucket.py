"""The ``executions`` KV bucket (``subjects.EXECUTIONS_BUCKET``) as the edge uses it: entries
by key, read, written, created only once, or changed with compare-and-set. The typed views
(``ExecutionRecords``, ``IdempotencyKeys``, ``NotebookRecords``) and the compatible APIs' own
keys all go through it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import nats.js.errors
from nats.js.kv import KeyValue

from contracts import subjects
from edge.kv_listing import kv_entries
from edge.nats_connection import NatsConnection, NotReady, compare_and_set


class ExecutionsBucket:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._connection.jetstream.key_value(
                    subjects.EXECUTIONS_BUCKET)
            except nats.js.errors.BucketNotFoundError as exc:
                raise NotReady(NotReady.__doc__) from exc
        return self._kv

    async def get(self, key: str) -> bytes | None:
        try:
            entry = await (await self._bucket()).get(key)
        except nats.js.errors.KeyNotFoundError:  # also a deleted key
            return None
        return entry.value or None

    async def put(self, key: str, value: bytes) -> None:
        await (await self._bucket()).put(key, value)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).delete(key)

    async def purge(self, key: str) -> None:
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await (await self._bucket()).purge(key)

    async def create(self, key: str, value: bytes) -> bool:
        """Store ``value`` unless ``key`` holds one already: False then."""
        try:
            await (await self._bucket()).create(key, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def values(self, key_filter: str) -> list[bytes]:
        """The values of every live key matching ``key_filter`` (``a.b.>``), in the order
        they were last put (edge.kv_listing: never an early end)."""
        entries = await kv_entries(self._connection.jetstream, subjects.EXECUTIONS_BUCKET,
                                   await self._bucket(), key_filter)
        return [value for _, value in entries if value]

    async def change(self, key: str, change: Callable[[bytes | None], bytes]) -> None:
        """Store what ``change`` makes of an entry, with compare-and-set."""
        if not await compare_and_set(await self._bucket(), key, change):
            raise NotReady(f"{key} kept changing under this edge; try again")

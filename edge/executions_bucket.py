"""The ``executions`` KV bucket (``subjects.EXECUTIONS_BUCKET``) as the edge uses it: entries
by key, read, written, created only once, or changed with compare-and-set. The typed views
(``ExecutionRecords``, ``IdempotencyKeys``, ``NotebookRecords``) and the compatible APIs' own
keys all go through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import nats.js.errors
from nats.js.kv import KeyValue

from contracts import subjects
from edge.nats_connection import NatsConnection, NotReady, compare_and_set

LISTING_WAIT_S = 5.0
"""How long a listing waits for the last of the keys it counted (one can expire meanwhile)."""
LISTING_CONSUMER_S = 10.0
"""How long the server keeps a listing's consumer once its watcher stopped (nats-py's default,
5 minutes, would pile up one per listing)."""


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
        they were last put.

        The keys are counted first and read until each was seen: nats-py's "end of what was
        stored" marker can come before the entries (its consumer has delivered them all when
        it asks, and none was handled yet), and a listing then came back empty under load."""
        connection = self._connection
        info = await connection.jetstream.stream_info(
            subjects.kv_stream(subjects.EXECUTIONS_BUCKET),
            subjects_filter=subjects.kv_subjects(subjects.EXECUTIONS_BUCKET, key_filter))
        expected = len(info.state.subjects or {})
        if expected == 0:
            return []
        watcher = await (await self._bucket()).watch(
            key_filter, inactive_threshold=LISTING_CONSUMER_S)
        found: list[bytes] = []
        seen = 0
        try:
            async with asyncio.timeout(LISTING_WAIT_S):
                async for entry in watcher:
                    if entry is None:  # the marker: it may come early, the count decides
                        continue
                    seen += 1
                    if entry.operation is None and entry.value:
                        found.append(entry.value)
                    if seen >= expected:
                        break
        except TimeoutError:  # a key expired meanwhile (max age): what came is the listing
            pass
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return found

    async def change(self, key: str, change: Callable[[bytes | None], bytes]) -> None:
        """Store what ``change`` makes of an entry, with compare-and-set."""
        if not await compare_and_set(await self._bucket(), key, change):
            raise NotReady(f"{key} kept changing under this edge; try again")

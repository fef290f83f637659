"""The ``limits`` KV bucket (``subjects.LIMITS_BUCKET``) shared by every edge: API keys' rate
limits and quotas, read and changed with compare-and-set (``edge.limits`` decides what)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from contracts import subjects
from contracts.messages import encode
from edge.nats_connection import NatsConnection, NotReady

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
LIMITS_TIMEOUT_S = 2.0
LIMITS_ATTEMPTS = 50


class LimitsBucket:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection
        self._kv: KeyValue | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def _reaching(self) -> AsyncIterator[KeyValue]:
        """The limits bucket; NotReady when NATS does not answer (the API then refuses requests
        rather than serve them unlimited)."""
        try:
            if self._kv is None:
                js = self._connection.client.jetstream(timeout=LIMITS_TIMEOUT_S)
                self._kv = await js.key_value(subjects.LIMITS_BUCKET)
            yield self._kv
        except nats.js.errors.BucketNotFoundError as exc:
            raise NotReady(NotReady.__doc__) from exc
        except (nats.errors.Error, TimeoutError) as exc:
            raise NotReady(f"the store of rate limits and quotas did not answer ({exc!r}); "
                           "try again") from exc

    @staticmethod
    async def _entry(kv: KeyValue, key: str, kind: type[T]) -> tuple[T | None, int]:
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
        async with self._reaching() as kv:
            return (await self._entry(kv, key, kind))[0]

    async def change_limit(self, key: str, kind: type[T],
                           change: Callable[[T | None], tuple[T | None, R]]) -> R:
        """Store what ``change`` makes of the stored value, unless None, with compare-and-set:
        read and apply again when another edge changed it meanwhile (this edge's own changes
        of one key wait for each other instead). Returns ``change``'s second value."""
        async with self._locks.setdefault(key, asyncio.Lock()), self._reaching() as kv:
            for _ in range(LIMITS_ATTEMPTS):
                value, revision = await self._entry(kv, key, kind)
                new, result = change(value)
                if new is None:
                    return result
                try:
                    await kv.update(key, encode(new), last=revision)
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
                return result
        raise NotReady(f"the limit {key} kept changing under this edge; try again")

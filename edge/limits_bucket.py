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
from edge.nats_connection import NatsConnection, NotReady, compare_and_set

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")
LIMITS_TIMEOUT_S = 2.0


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

    async def read_limit(self, key: str, kind: type[T]) -> T | None:
        async with self._reaching() as kv:
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:  # also a deleted key
                return None
            return decoded(entry.value, kind)

    async def change_limit(self, key: str, kind: type[T],
                           change: Callable[[T | None], tuple[T | None, R]]) -> R:
        """Store what ``change`` makes of the stored value, unless None, with compare-and-set:
        read and apply again when another edge changed it meanwhile (this edge's own changes
        of one key wait for each other instead). Returns ``change``'s second value."""
        results: list[R] = []

        def apply(value: bytes | None) -> bytes | None:
            new, result = change(decoded(value, kind))
            results.append(result)
            return None if new is None else encode(new)

        async with self._locks.setdefault(key, asyncio.Lock()), self._reaching() as kv:
            if await compare_and_set(kv, key, apply):
                return results[-1]
        raise NotReady(f"the limit {key} kept changing under this edge; try again")


def decoded(value: bytes | None, kind: type[T]) -> T | None:
    """A stored limit (None when there is none or it is not a ``kind``)."""
    try:
        return msgspec.json.decode(value or b"", type=kind)
    except msgspec.DecodeError:
        return None

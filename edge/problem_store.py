"""Stored problems in NATS (``subjects.PROBLEMS_STORE``): each test's input and answer put once
by content hash, each problem under its owner. The edge that first stores one creates the
store, of ``max_bytes`` (``PROBLEMS_MAX_BYTES``); runners read the tests' objects
(runners/bus.py)."""

from __future__ import annotations

import asyncio

import nats.js.errors
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.object_store import ObjectStore

from contracts import subjects
from contracts.judging import StoredProblem, stored_problem_decoder
from edge.nats_connection import NatsConnection

STORE_FULL = 10077
"""JetStream's error code for a write past the stream's ``max_bytes``."""


class ProblemStoreFull(Exception):
    """The stored problems' store is full (``PROBLEMS_MAX_BYTES``): this problem does not fit."""


class ProblemStore:
    def __init__(self, connection: NatsConnection, max_bytes: int) -> None:
        self._connection = connection
        self.max_bytes = max_bytes
        self._store: ObjectStore | None = None
        self._opening = asyncio.Lock()

    async def _opened(self) -> ObjectStore:
        async with self._opening:
            if self._store is None:
                js = self._connection.jetstream
                try:
                    self._store = await js.object_store(subjects.PROBLEMS_STORE)
                except nats.js.errors.BucketNotFoundError:
                    self._store = await js.create_object_store(
                        subjects.PROBLEMS_STORE,
                        ObjectStoreConfig(storage=StorageType.FILE, max_bytes=self.max_bytes))
            return self._store

    async def put_content(self, sha256: str, data: bytes) -> None:
        """Store a test's input or answer under its hash, unless it is there already."""
        store = await self._opened()
        try:
            await store.get_info(sha256)
            return
        except nats.js.errors.ObjectNotFoundError:
            pass
        await _put(store, sha256, data)

    async def put_problem(self, owner: str, problem_id: str, data: bytes) -> None:
        await _put(await self._opened(), subjects.problem_object(owner, problem_id), data)

    async def problem(self, owner: str, problem_id: str) -> StoredProblem | None:
        store = await self._opened()
        try:
            found = await store.get(subjects.problem_object(owner, problem_id))
        except nats.js.errors.ObjectNotFoundError:
            return None
        return stored_problem_decoder.decode(found.data or b"")


async def _put(store: ObjectStore, name: str, data: bytes) -> None:
    """Raises ProblemStoreFull."""
    try:
        await store.put(name, data)
    except nats.js.errors.APIError as exc:
        if exc.err_code == STORE_FULL:
            raise ProblemStoreFull(ProblemStoreFull.__doc__) from None
        raise

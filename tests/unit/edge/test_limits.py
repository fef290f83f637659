"""The shared rate limit and quota, with several edges (``ApiKeyLimits``) over one in-memory
store that behaves like the limits bucket: values stored encoded, changed with compare-and-set."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from contracts.messages import CompletionEvent, ExecutionRecord
from contracts.subjects import quota_key, rate_key
from edge.auth import TokenBucket, Unfinished
from edge.limits import UNSUBMITTED_AFTER_S, ApiKeyLimits

T = TypeVar("T", bound=msgspec.Struct)
R = TypeVar("R")


class Store:
    """The limits bucket and the completions and records an edge can look up."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[bytes, int]] = {}
        self.revision = 0
        self.completions: set[str] = set()
        self.records: set[str] = set()
        self.writes = 0
        self.before_write: Callable[[], None] = lambda: None

    def put(self, key: str, value: msgspec.Struct) -> None:
        self.revision += 1
        self.values[key] = (msgspec.json.encode(value), self.revision)

    async def read_limit(self, key: str, kind: type[T]) -> T | None:
        data = self.values.get(key)
        return msgspec.json.decode(data[0], type=kind) if data else None

    async def change_limit(self, key: str, kind: type[T],
                           change: Callable[[T | None], tuple[T | None, R]]) -> R:
        while True:
            data, revision = self.values.get(key, (b"", 0))
            new, result = change(msgspec.json.decode(data, type=kind) if data else None)
            if new is None:
                return result
            self.before_write()
            if self.values.get(key, (b"", 0))[1] != revision:
                continue  # another edge wrote meanwhile: read again
            self.writes += 1
            self.put(key, new)
            return result

    async def completion(self, execution_id: str) -> CompletionEvent | None:
        return CompletionEvent(execution_id, "ok") if execution_id in self.completions else None

    async def record(self, execution_id: str) -> ExecutionRecord | None:
        if execution_id not in self.records:
            return None
        return ExecutionRecord(execution_id, "key:alice", "python", 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def edges(store: Store, clock: Clock, per_minute: int = 60, max_unfinished: int = 2
          ) -> tuple[ApiKeyLimits, ApiKeyLimits]:
    return (ApiKeyLimits(store, store.completion, store.record, per_minute, max_unfinished,
                         clock),
            ApiKeyLimits(store, store.completion, store.record, per_minute, max_unfinished,
                         clock))


async def test_two_edges_spend_one_rate_budget() -> None:
    a, b = edges(Store(), Clock(), per_minute=6)
    waits = [await (a if i % 2 else b).take("alice") for i in range(8)]
    assert waits[:6] == [0.0] * 6
    assert waits[6] > 0
    assert waits[7] > 0


async def test_a_refused_request_writes_nothing() -> None:
    store = Store()
    a, _ = edges(store, Clock(), per_minute=2)
    assert await a.take("alice", cost=2) == 0.0
    writes = store.writes
    assert await a.take("alice") > 0
    assert store.writes == writes


async def test_a_change_made_meanwhile_by_another_edge_is_not_lost() -> None:
    store = Store()
    clock = Clock()
    a, b = edges(store, clock, per_minute=10)
    assert await b.take("alice") == 0.0  # 9 left
    key = rate_key("alice")

    def another_edge_spends_three_first() -> None:
        store.before_write = lambda: None
        store.put(key, TokenBucket(6.0, clock.now))

    store.before_write = another_edge_spends_three_first
    assert await a.take("alice") == 0.0
    assert await store.read_limit(key, TokenBucket) == TokenBucket(5.0, clock.now)


async def test_the_quota_is_shared_and_a_place_returns_when_its_edge_releases_it() -> None:
    store = Store()
    a, b = edges(store, Clock(), max_unfinished=2)
    assert await a.admit("alice", "e1")
    assert await a.admit("alice", "e2")
    assert not await b.admit("alice", "e3")
    assert await b.admit("bob", "e4")  # another key has room of its own
    await b.release("e1")  # not b's: b cannot tell whose it is
    assert not await b.admit("alice", "e3")
    await a.release("e1")
    assert await b.admit("alice", "e3")
    assert await store.read_limit(quota_key("alice"), Unfinished) == Unfinished(
        {"e2": Clock().now, "e3": Clock().now})


async def test_a_full_key_first_forgets_executions_whose_completion_is_stored() -> None:
    store = Store()
    a, b = edges(store, Clock())
    assert await a.admit("alice", "e1")
    assert await a.admit("alice", "e2")
    store.records.update({"e1", "e2"})
    store.completions.add("e1")  # completed, but edge a died before it released it
    assert await b.admit("alice", "e3")
    assert not await b.admit("alice", "e4")


async def test_a_full_key_forgets_executions_never_submitted_after_a_while() -> None:
    store = Store()
    clock = Clock()
    a, b = edges(store, clock)
    assert await a.admit("alice", "lost")  # its edge died before storing the record
    assert await a.admit("alice", "queued")
    store.records.add("queued")
    assert not await b.admit("alice", "e3")  # a moment ago: it may be being submitted
    clock.now += UNSUBMITTED_AFTER_S + 1
    assert await b.admit("alice", "e3")
    assert not await b.admit("alice", "e4")  # a queued execution keeps its place
    unfinished = await store.read_limit(quota_key("alice"), Unfinished)
    assert unfinished is not None
    assert set(unfinished.since) == {"queued", "e3"}


async def test_releasing_twice_frees_the_place_once() -> None:
    store = Store()
    a, _ = edges(store, Clock(), max_unfinished=3)
    for execution_id in ("e1", "e2"):
        assert await a.admit("alice", execution_id)
    await a.release("e1")
    writes = store.writes
    await a.release("e1")
    assert store.writes == writes
    unfinished = await store.read_limit(quota_key("alice"), Unfinished)
    assert unfinished is not None
    assert set(unfinished.since) == {"e2"}

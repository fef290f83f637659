"""GET /v1/session: the key's quota read once, its executions' states asked together."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import msgspec
from starlette.requests import Request

from contracts.subjects import quota_key
from edge.auth import Principal, Unfinished
from edge.limits import ApiKeyLimits
from edge.session_control_api import SessionControlApi

IDS = ["a" * 32, "b" * 32, "c" * 32]


class QuotaStore:
    """Stands in for the limits bucket: one key's quota, its reads counted."""

    def __init__(self) -> None:
        self.reads = 0

    async def read_limit(self, key: str, kind: type[Any]) -> Any:
        assert key == quota_key("alice")
        self.reads += 1
        return Unfinished({execution_id: 0.0 for execution_id in IDS})


class TogetherRecords:
    """``is_running`` answers only once every execution was asked (asked one after another,
    the first would wait for ever)."""

    def __init__(self) -> None:
        self.asked: set[str] = set()
        self.all_asked = asyncio.Event()

    async def is_running(self, execution_id: str) -> bool:
        self.asked.add(execution_id)
        if len(self.asked) == len(IDS):
            self.all_asked.set()
        await asyncio.wait_for(self.all_asked.wait(), 1.0)
        return execution_id == IDS[0]


class NoRunners:
    async def resources(self, owner: str) -> list[object]:
        return []


async def no_completion(execution_id: str) -> None:
    return None


async def test_the_session_reads_the_quota_once_and_asks_every_state_together() -> None:
    store = QuotaStore()
    limits = ApiKeyLimits(store, no_completion, no_completion,  # type: ignore[arg-type]
                          per_minute=60, max_unfinished=10, clock=lambda: 1.0)

    async def caller(request: Request) -> Principal:
        return Principal("alice", False)

    api = SimpleNamespace(caller=caller, keys=SimpleNamespace(open=False), limits=limits,
                          bus=SimpleNamespace(records=TogetherRecords()))
    sessions = SessionControlApi(api, NoRunners())  # type: ignore[arg-type]
    response = await sessions.show(Request({"type": "http", "headers": []}))
    body = msgspec.json.decode(bytes(response.body))
    assert [(e["executionId"], e["status"]) for e in body["running"]] == [
        (IDS[0], "running"), (IDS[1], "queued"), (IDS[2], "queued")]
    assert store.reads == 1

"""A runner stores a finished job's result, and asks a dispatcher to relay its completion,
through each error a NATS outage raises (a restart, a cluster electing a leader, no dispatcher
answering), and gives up on others at once. A real restart:
tests/integration/test_runner_outage.py."""

from __future__ import annotations

from typing import Any, cast

import nats.errors
import pytest

from contracts import subjects
from contracts.messages import CompletionEvent, StoredOutput
from runners import bus as bus_module
from runners.bus import OUTAGE_ERRORS, CompletionNotRelayed, CompletionRefused, RunnerBus


class FlakyBucket:
    """An executions bucket whose first puts fail with ``failures``."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.stored: dict[str, bytes] = {}

    async def put(self, key: str, value: bytes) -> int:
        if self.failures:
            raise self.failures.pop(0)
        self.stored[key] = value
        return 1


def bus_with(bucket: FlakyBucket) -> RunnerBus:
    bus = RunnerBus(cast(Any, type("Nc", (), {"max_payload": 1 << 20})()), cast(Any, None))
    bus._results = cast(Any, bucket)
    return bus


@pytest.mark.parametrize("error", OUTAGE_ERRORS, ids=lambda e: f"{e.__module__}.{e.__name__}")
async def test_a_result_is_stored_again_through_an_outage(
    error: type[Exception], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "OUTAGE_RETRY_S", 0.0)
    bucket = FlakyBucket([error(), error()])
    await bus_with(bucket).put_output("e1", StoredOutput(stdout="out\n"))
    assert list(bucket.stored) == [subjects.output_key("e1")]


async def test_other_errors_are_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "OUTAGE_RETRY_S", 0.0)
    bucket = FlakyBucket([nats.errors.MaxPayloadError()])
    with pytest.raises(nats.errors.MaxPayloadError):
        await bus_with(bucket).put_output("e1", StoredOutput(stdout="out\n"))


async def test_a_store_gives_up_after_the_last_try(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "OUTAGE_RETRY_S", 0.0)
    monkeypatch.setattr(bus_module, "OUTAGE_TRIES", 3)
    bucket = FlakyBucket([nats.errors.TimeoutError() for _ in range(3)])
    with pytest.raises(nats.errors.TimeoutError):
        await bus_with(bucket).put_output("e1", StoredOutput(stdout="out\n"))
    assert bucket.stored == {}


class FlakyDispatchers:
    """A connection whose first completion requests meet ``failures`` (no dispatcher answers,
    NATS down), then a dispatcher answers ``reply``."""

    max_payload = 1 << 20

    def __init__(self, failures: list[Exception], reply: bytes) -> None:
        self.failures = failures
        self.reply = reply
        self.asked = 0
        self.headers: list[dict[str, str] | None] = []

    async def request(self, subject: str, data: bytes, timeout: float,
                      headers: dict[str, str] | None = None) -> object:
        self.asked += 1
        self.headers.append(headers)
        if self.failures:
            raise self.failures.pop(0)
        return type("Reply", (), {"data": self.reply})()


def bound_bus(nc: FlakyDispatchers) -> RunnerBus:
    bus = RunnerBus(cast(Any, nc), cast(Any, None))
    bus._runner_id = "r1"
    return bus


async def test_a_completion_is_relayed_through_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "OUTAGE_RETRY_S", 0.0)
    nc = FlakyDispatchers([nats.errors.NoRespondersError(), nats.errors.TimeoutError()],
                          subjects.COMPLETION_RELAYED)
    await bound_bus(nc).publish_completion(CompletionEvent("e1", "ok"), "2 17")
    assert nc.asked == 3
    assert nc.headers == [{subjects.SEAT_HEADER: "2 17"}] * 3  # the job's seat, each time


async def test_a_completion_no_dispatcher_took_and_one_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "OUTAGE_RETRY_S", 0.0)
    monkeypatch.setattr(bus_module, "OUTAGE_TRIES", 2)
    nc = FlakyDispatchers([nats.errors.NoRespondersError() for _ in range(2)], b"")
    with pytest.raises(CompletionNotRelayed):
        await bound_bus(nc).publish_completion(CompletionEvent("e1", "ok"))
    refusing = FlakyDispatchers([], b"this job was not given to this runner")
    with pytest.raises(CompletionRefused):
        await bound_bus(refusing).publish_completion(CompletionEvent("e1", "ok"))

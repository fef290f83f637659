"""A dispatcher declares its streams and buckets again when NATS reconnects: a restarted
nats-server has lost the runners bucket (memory storage), and runners cannot heartbeat without
it."""

from __future__ import annotations

from typing import Any, cast

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import KeyValueConfig, StorageType, StreamConfig

from contracts import subjects
from contracts.settings import DispatcherSettings
from dispatcher import bus as bus_module
from dispatcher.bus import DispatcherBus


class FakeJetStream:
    """What a single nats-server's JetStream does for ``DispatcherBus``'s declarations."""

    def __init__(self) -> None:
        self.streams: dict[str, StreamConfig] = {}
        self.buckets: dict[str, KeyValueConfig] = {}
        self.failures: list[Exception] = []

    async def add_stream(self, config: StreamConfig) -> None:
        if config.name == subjects.REPLICAS_PROBE_STREAM and (config.num_replicas or 1) > 1:
            raise nats.js.errors.APIError(description="replicas > 1 not supported")
        self.streams[config.name or ""] = config

    async def update_stream(self, config: StreamConfig) -> None:
        self.streams[config.name or ""] = config

    async def delete_stream(self, name: str) -> None:
        self.streams.pop(name, None)

    async def stream_info(self, name: str) -> Any:
        raise nats.js.errors.NotFoundError

    async def add_consumer(self, stream: str, config: Any) -> None:
        pass

    async def create_key_value(self, config: KeyValueConfig) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.buckets[config.bucket] = config

    async def key_value(self, bucket: str) -> object:
        if bucket not in self.buckets:
            raise nats.js.errors.BucketNotFoundError
        return object()



class FakeConnection:
    """Counts the subscriptions of the queue's long polls."""

    def __init__(self) -> None:
        self.polls = 0

    def new_inbox(self) -> str:
        return "_INBOX.poll"

    async def subscribe(self, subject: str, cb: object) -> object:
        self.polls += 1
        return object()


def bus_of(js: FakeJetStream, nc: FakeConnection) -> DispatcherBus:
    return DispatcherBus(cast(Any, nc), cast(Any, js), DispatcherSettings())


async def restarted(js: FakeJetStream, nc: FakeConnection) -> DispatcherBus:
    """A bus whose streams were declared, then a nats-server restart lost the memory bucket."""
    bus = bus_of(js, nc)
    await bus.ensure_streams()
    assert js.buckets[subjects.RUNNERS_BUCKET].storage == StorageType.MEMORY
    del js.buckets[subjects.RUNNERS_BUCKET]
    return bus


async def test_a_reconnect_declares_the_runners_bucket_again() -> None:
    js, nc = FakeJetStream(), FakeConnection()
    bus = await restarted(js, nc)
    bus.reconnected()
    assert bus._redeclaring is not None
    await bus._redeclaring
    bucket = js.buckets[subjects.RUNNERS_BUCKET]
    assert (bucket.storage, bucket.ttl) == (StorageType.MEMORY, float(subjects.RUNNER_TTL_S))
    assert nc.polls == len(subjects.PRIORITIES)  # the polls are made once, not again


async def test_a_reconnect_retries_while_jetstream_recovers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "SETUP_RETRY_S", 0.0)
    js = FakeJetStream()
    bus = await restarted(js, FakeConnection())
    js.failures = [nats.errors.TimeoutError(), nats.js.errors.ServiceUnavailableError()]
    bus.reconnected()
    bus.reconnected()  # one declaration at a time
    assert bus._redeclaring is not None
    await bus._redeclaring
    assert subjects.RUNNERS_BUCKET in js.buckets
    assert not js.failures


async def test_a_start_retries_while_jetstream_is_not_ready(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One retry loop for the start and for a reconnect (``DispatcherBus._retrying``)."""
    monkeypatch.setattr(bus_module, "SETUP_RETRY_S", 0.0)
    js, nc = FakeJetStream(), FakeConnection()
    js.failures = [nats.errors.TimeoutError(), nats.js.errors.ServiceUnavailableError()]
    bus = bus_of(js, nc)
    await bus.ensure_streams()
    assert not js.failures
    assert subjects.RUNNERS_BUCKET in js.buckets
    assert nc.polls == len(subjects.PRIORITIES)


async def test_a_start_gives_up_after_the_last_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "SETUP_RETRY_S", 0.0)
    monkeypatch.setattr(bus_module, "SETUP_ATTEMPTS", 2)
    js = FakeJetStream()
    js.failures = [nats.errors.TimeoutError(), nats.errors.TimeoutError()]
    bus = bus_of(js, FakeConnection())
    with pytest.raises(nats.errors.TimeoutError):
        await bus.ensure_streams()

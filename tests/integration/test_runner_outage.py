"""A runner stores a finished job's result through a NATS outage: the nats-server stops as the
result is stored and starts again later, and the result is stored then (before, the store
failed, the job stayed unacknowledged and ran a second time after the ack wait; seen in
tests/faults/test_nats_restart.py). tests/unit/runners/test_result_store.py tries each error
an outage raises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import nats
from nats.js.api import KeyValueConfig

from coderunner.nats_server import NatsServer
from contracts import subjects
from contracts.messages import StoredOutput
from runners.bus import RunnerBus

PUBLISH_TIMEOUT_S = 5.0
"""How long nats-py's JetStream publish (a bucket's put) waits for the stream's answer."""


async def test_a_result_stored_while_nats_restarts_is_stored_when_it_is_back(
    tmp_path: Path,
) -> None:
    server = NatsServer(tmp_path / "nats", port=0).start()
    port = server.port
    try:
        admin = await nats.connect(server.url)
        await admin.jetstream().create_key_value(KeyValueConfig(subjects.EXECUTIONS_BUCKET))
        await admin.close()
        bus = await RunnerBus.connect(server.url, "outage-test")
        try:
            await asyncio.to_thread(server.stop)
            output = StoredOutput(stdout="out\n")
            storing = asyncio.create_task(bus.put_output("e1", output))
            # Longer than a store waits for its answer (nats-py buffers it meanwhile): it
            # times out, and is tried again.
            await asyncio.sleep(PUBLISH_TIMEOUT_S + 1.5)
            assert not storing.done()
            server = NatsServer(tmp_path / "nats", port=port).start()
            await asyncio.wait_for(storing, 60)
        finally:
            await bus.close()
        reader = await nats.connect(server.url)
        try:
            kv = await reader.jetstream().key_value(subjects.EXECUTIONS_BUCKET)
            entry = await kv.get(subjects.output_key("e1"))
        finally:
            await reader.close()
        assert msgspec.json.decode(entry.value or b"", type=StoredOutput).stdout == "out\n"
    finally:
        server.stop()

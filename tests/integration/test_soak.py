"""A short soak: 600 executions through the browser socket, the HTTP API and background jobs
on JetStream, in three languages, each with exactly one completion on the stream."""

from __future__ import annotations

import pytest

from coderunner.soak import soak
from coderunner.soak_plan import plan
from tests.conftest import Running

COUNT = 600


@pytest.mark.timeout(300)
async def test_every_execution_of_a_soak_completes_exactly_once(platform: Running) -> None:
    items = plan(COUNT, languages={"python": 50, "bash": 30, "lua": 20})
    run = await soak(platform.ws_url, platform.url, platform.nats_url, items, in_flight=20,
                     sockets=6)
    done = run.accounting
    assert done.problems == {}
    assert done.missing == []
    assert done.duplicated == {}
    assert done.planned == done.accepted == done.once == COUNT
    assert set(done.by_channel) == {"ws", "api", "background"}
    assert set(done.by_language) == {"python", "bash", "lua"}

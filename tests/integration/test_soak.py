"""A short soak: 600 executions through the browser socket, the HTTP API and background jobs
on JetStream, in three languages, each begun once and completed once (counted on the stream
and as published)."""

from __future__ import annotations

import pytest

from coderunner.soak import soak
from coderunner.soak_plan import plan
from tests.conftest import Running
from tests.runs_seen import runs_seen

COUNT = 600


@pytest.mark.timeout(300)
async def test_every_execution_of_a_soak_completes_exactly_once(platform: Running) -> None:
    items = plan(COUNT, languages={"python": 50, "bash": 30, "lua": 20})
    async with runs_seen(platform.nats_url) as seen:
        run = await soak(platform.ws_url, platform.url, platform.nats_url, items, in_flight=20,
                         sockets=6)
        done = run.accounting
        await seen.assert_once(o.execution_id for o in run.outcomes if o.execution_id)
    assert done.problems == {}
    assert done.missing == []
    assert done.duplicated == {}
    assert done.published_twice == {}
    assert done.planned == done.accepted == done.once == COUNT
    assert set(done.by_channel) == {"ws", "api", "background"}
    assert set(done.by_language) == {"python", "bash", "lua"}

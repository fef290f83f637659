"""On the whole platform (real edge, dispatcher, runner and Docker), a plain job goes straight
from the edge to a free seat of its runner while no job waits: it never enters the queue
(``JOBS``), the edge's metrics count it, the queue's stats count it as running while it runs,
and it completes as any other."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import nats
import pytest

from contracts import subjects
from tests.conftest import Running
from tests.integration.test_api import api as api
from tests.integration.test_api import program, until_status

pytestmark = pytest.mark.timeout(120)


def gauge(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


async def queued_so_far(url: str) -> int:
    """The last sequence of the queue's stream: how many jobs ever entered it."""
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(subjects.JOBS_STREAM)).state.last_seq
    finally:
        await nc.close()


async def test_a_plain_job_goes_straight_to_a_seat_and_counts_as_running(
        api: httpx.AsyncClient, platform: Running) -> None:
    deadline = time.monotonic() + 30
    while gauge((metrics := (await api.get("/metrics")).text),
                "coderunner_edge_placing_on_seats") != 1:
        assert time.monotonic() < deadline, "the edge never heard that no job waits"
        await asyncio.sleep(0.1)
    while (await api.get("/api/queue-stats")).json()["queue"]["running"] != 0:
        assert time.monotonic() < deadline + 30, "an earlier test's job never ended"
        await asyncio.sleep(0.1)
    placed = gauge(metrics, "coderunner_edge_jobs_placed_on_seats")
    queued = await queued_so_far(platform.nats_url)

    accepted = (await api.post("/api/v1/executions", json=program(
        "import time\nprint('start', flush=True)\ntime.sleep(2)\nprint('end')"))).json()
    await until_status(api, accepted["id"], "running")
    stats = (await api.get("/api/queue-stats")).json()
    assert stats["queue"]["running"] == 1  # no dispatcher released it: each heard it placed
    body = (await api.get(f"/api/v1/executions/{accepted['id']}?wait=true")).json()
    assert (body["verdict"], body["stdout"]) == ("ok", "start\nend\n")

    assert await queued_so_far(platform.nats_url) == queued  # it never entered the queue
    after = gauge((await api.get("/metrics")).text, "coderunner_edge_jobs_placed_on_seats")
    assert after == placed + 1

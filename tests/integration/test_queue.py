"""The queue on a platform with one slot and room for two waiting jobs: a stop before a job
runs cancels it, the cap holds, and a job over capacity is refused at once; on one whose queue
timeout is 2 s, waiting jobs of every kind expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client
from tests.runs_seen import runs_seen

SLEEP = "import time\nprint('start', flush=True)\ntime.sleep(6)\nprint('end')\n"


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One slot and room for two waiting jobs; the queue timeout as by default (60 s), so that
    a job waiting behind slow container starts on a busy machine does not expire."""
    data = tmp_path_factory.mktemp("one-slot")
    settings = {"MAX_CONCURRENT_SESSIONS": "1", "QUEUE_CAPACITY": "2"}
    with running_platform(data, **settings) as running:
        yield running


@pytest.fixture(scope="module")
def short_wait(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One slot, and jobs expire after waiting 2 s."""
    data = tmp_path_factory.mktemp("short-wait")
    with running_platform(data, MAX_CONCURRENT_SESSIONS="1", QUEUE_TIMEOUT="2") as running:
        yield running


@pytest.fixture
async def clients(one_slot: Running) -> AsyncIterator[tuple[Client, Client]]:
    a, b = await Client.connect(one_slot.ws_url), await Client.connect(one_slot.ws_url)
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture
async def waiting_clients(short_wait: Running) -> AsyncIterator[tuple[Client, Client]]:
    a, b = await Client.connect(short_wait.ws_url), await Client.connect(short_wait.ws_url)
    yield a, b
    await a.close()
    await b.close()


async def started(client: Client, execution_id: str) -> None:
    while (await client.receive()).get("type") != "output":
        pass


async def test_a_job_waiting_past_the_queue_timeout_expires(
    waiting_clients: tuple[Client, Client],
) -> None:
    busy, waiting = waiting_clients
    first = await busy.submit({"main.py": SLEEP})
    await started(busy, first["executionId"])
    second = await waiting.submit({"main.py": "print('never')"})
    result = await waiting.collect(second["executionId"])
    assert result.verdict == "expired"
    assert result.completion["queuedMs"] >= 2000
    assert result.stdout == ""
    assert (await busy.collect(first["executionId"])).verdict == "ok"


async def test_api_and_background_jobs_waiting_past_the_queue_timeout_expire(
    short_wait: Running, waiting_clients: tuple[Client, Client],
) -> None:
    busy, _ = waiting_clients
    async with (runs_seen(short_wait.nats_url) as seen,
                httpx.AsyncClient(base_url=short_wait.url, timeout=60, trust_env=False) as http):
        first = await busy.submit({"main.py": SLEEP})
        await started(busy, first["executionId"])
        ids = [(await http.post("/api/v1/executions", json=never(background))).json()["id"]
               for background in (False, True)]
        results = [(await http.get(f"/api/v1/executions/{i}?wait=true")).json() for i in ids]
        assert [(r["status"], r["verdict"], r["stdout"]) for r in results] == [
            ("completed", "expired", "")] * 2, results
        assert all(r["queuedMs"] >= 2000 for r in results), results
        await busy.send({"type": "stop", "executionId": first["executionId"]})
        assert (await busy.collect(first["executionId"])).verdict == "cancelled"
        await seen.assert_once(ids, began=False)


def never(background: bool) -> dict[str, Any]:
    return {"language": "python", "mainFile": "main.py", "background": background,
            "files": [{"name": "main.py", "content": "print('never')"}]}


async def test_a_stop_before_the_job_runs_cancels_it(clients: tuple[Client, Client]) -> None:
    busy, waiting = clients
    first = await busy.submit({"main.py": SLEEP})
    await started(busy, first["executionId"])
    second = await waiting.submit({"main.py": "print('never')"})
    await waiting.send({"type": "stop", "executionId": second["executionId"]})
    result = await waiting.collect(second["executionId"])
    assert result.verdict == "cancelled"
    assert [e["type"] for e in result.events] == ["completion"], "it never ran"
    await busy.send({"type": "stop", "executionId": first["executionId"]})
    assert (await busy.collect(first["executionId"])).verdict == "cancelled"


async def test_with_one_slot_programs_run_one_after_the_other(one_slot: Running) -> None:
    program = "import time\nstart = time.time()\ntime.sleep(0.5)\nprint(start, time.time())\n"
    clients = [await Client.connect(one_slot.ws_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(c.run({"main.py": program}) for c in clients))
    finally:
        for c in clients:
            await c.close()
    spans = sorted(tuple(map(float, r.stdout.split())) for r in results)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(spans))


async def test_a_job_over_capacity_is_refused_with_queue_full(one_slot: Running) -> None:
    clients = [await Client.connect(one_slot.ws_url) for _ in range(4)]
    try:
        running = await clients[0].submit({"main.py": SLEEP})
        await started(clients[0], running["executionId"])
        waiting = [await c.submit({"main.py": "print(1)"}) for c in clients[1:3]]
        refused = await clients[3].submit({"main.py": "print(1)"}, request_id="over")
        assert [w["status"] for w in waiting] == ["queued", "queued"]
        assert (refused["type"], refused["code"], refused["requestId"]) == (
            "error", "queue_full", "over",
        )
        await clients[0].send({"type": "stop", "executionId": running["executionId"]})
        verdicts = [(await c.collect(w["executionId"])).verdict
                    for c, w in zip(clients[1:3], waiting, strict=True)]
        assert verdicts == ["ok", "ok"], "nothing accepted was lost"
    finally:
        for c in clients:
            await c.close()


async def test_a_free_slot_goes_to_the_highest_priority_first(one_slot: Running) -> None:
    """Background (0) then API (1) jobs wait behind a running one; then API (1) and socket (2)."""
    stamp = "import time\nprint(time.time())\n"

    def body(background: bool) -> dict[str, Any]:
        return {"language": "python", "mainFile": "main.py", "background": background,
                "files": [{"name": "main.py", "content": stamp}]}

    async with httpx.AsyncClient(base_url=one_slot.url, timeout=60, trust_env=False) as http:
        blocker = await Client.connect(one_slot.ws_url)
        socket = await Client.connect(one_slot.ws_url)
        try:
            first = await blocker.submit({"main.py": SLEEP})
            await started(blocker, first["executionId"])
            low = (await http.post("/api/v1/executions", json=body(True))).json()
            mid = (await http.post("/api/v1/executions", json=body(False))).json()
            await blocker.send({"type": "stop", "executionId": first["executionId"]})
            starts = {}
            for name, accepted in (("low", low), ("mid", mid)):
                result = (await http.get(f"/api/v1/executions/{accepted['id']}?wait=true")).json()
                starts[name] = float(result["stdout"])
            assert starts["mid"] < starts["low"]
            assert (await blocker.collect(first["executionId"])).verdict == "cancelled"

            second = await blocker.submit({"main.py": SLEEP}, request_id="second")
            await started(blocker, second["executionId"])
            api = (await http.post("/api/v1/executions", json=body(False))).json()
            high = await socket.submit({"main.py": stamp})
            await blocker.send({"type": "stop", "executionId": second["executionId"]})
            high_result = await socket.collect(high["executionId"])
            assert high_result.verdict == "ok", high_result.events
            socket_start = float(high_result.stdout)
            api_result = (await http.get(f"/api/v1/executions/{api['id']}?wait=true")).json()
            assert socket_start < float(api_result["stdout"])
        finally:
            await blocker.close()
            await socket.close()

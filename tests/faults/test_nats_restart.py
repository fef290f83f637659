"""A nats-server restart (file storage) while the platform runs: every component reconnects,
jobs accepted before the restart (one, then thirty at once) complete exactly once, and new jobs
run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client, completion_count


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_platform(tmp_path_factory.mktemp("nats-restart")) as running:
        yield running


async def test_the_platform_survives_a_nats_restart(restartable: Running) -> None:
    client = await Client.connect(restartable.ws_url)
    try:
        accepted = await client.submit({"main.py": "import time\ntime.sleep(3)\nprint('done')\n"})
        assert accepted["status"] == "queued"
        await asyncio.to_thread(restartable.restart_nats)
        await asyncio.sleep(2)  # the clients reconnect (reconnect_time_wait 0.5 s)
        after = None
        for _ in range(20):  # until the edge's own connection is back
            after = await Client.connect(restartable.ws_url)
            answer = await after.submit({"main.py": "print('after')"})
            if answer["type"] == "status":
                result = await after.collect(answer["executionId"])
                break
            await after.close()
            after = None
            await asyncio.sleep(0.5)
        assert after is not None, "no job was accepted after the restart"
        await after.close()
        assert (result.verdict, result.stdout) == ("ok", "after\n")
        before = await asyncio.wait_for(client.collect(accepted["executionId"]), 60)
        assert (before.verdict, before.stdout) == ("ok", "done\n")
        assert [e["type"] for e in before.events].count("completion") == 1
    finally:
        await client.close()


async def test_jobs_accepted_before_a_restart_under_load_complete_once(
    restartable: Running,
) -> None:
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": "import time\ntime.sleep(0.5)\nprint('ok')"}]}
    async with httpx.AsyncClient(base_url=restartable.url, timeout=30, trust_env=False) as http:
        ids = [(await http.post("/api/v1/executions", json=body)).json()["id"] for _ in range(30)]
        await asyncio.to_thread(restartable.restart_nats)
        results = {}
        deadline = asyncio.get_running_loop().time() + 90
        while len(results) < len(ids) and asyncio.get_running_loop().time() < deadline:
            for execution_id in ids:
                if execution_id in results:
                    continue
                response = await http.get(f"/api/v1/executions/{execution_id}")
                if response.status_code == 200 and response.json()["status"] == "completed":
                    results[execution_id] = response.json()
            await asyncio.sleep(0.5)
    assert len(results) == len(ids), f"{len(ids) - len(results)} accepted jobs were lost"
    assert {r["verdict"] for r in results.values()} == {"ok"}
    for execution_id in ids:
        assert await completion_count(restartable.nats_url, execution_id) == 1


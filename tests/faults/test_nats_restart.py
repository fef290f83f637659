"""A nats-server restart (file storage) while the platform runs: every component reconnects,
jobs accepted before the restart (one, then thirty at once) complete exactly once, and new jobs
run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import nats.errors
import nats.js.errors
import pytest
import websockets

from contracts.subjects import RUNNER_HEARTBEAT_S, RUNNERS_BUCKET
from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client, Result, completion_count
from tests.runs_seen import runs_seen


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_platform(tmp_path_factory.mktemp("nats-restart")) as running:
        yield running


async def test_the_platform_survives_a_nats_restart(restartable: Running) -> None:
    client = await Client.connect(restartable.ws_url)
    try:
        async with runs_seen(restartable.nats_url) as seen:
            accepted = await client.submit(
                {"main.py": "import time\ntime.sleep(3)\nprint('done')\n"})
            assert accepted["status"] == "queued"
            await asyncio.to_thread(restartable.restart_nats)
            result = await run_once_accepted(restartable, "print('after')")
            assert (result.verdict, result.stdout) == ("ok", "after\n")
            # The runners bucket (memory storage) is declared again: the runner's heartbeat is
            # stored anew (a runner that had not bound it before the restart is seen too).
            assert await heartbeat_stored(restartable, timeout_s=5 * RUNNER_HEARTBEAT_S)
            before = await asyncio.wait_for(client.collect(accepted["executionId"]), 60)
            assert (before.verdict, before.stdout) == ("ok", "done\n")
            assert [e["type"] for e in before.events].count("completion") == 1
            await seen.settled()
        assert seen.twice([accepted["executionId"], result.execution_id]) == {}
    finally:
        await client.close()


async def heartbeat_stored(running: Running, timeout_s: float) -> bool:
    """Whether the runner's heartbeat is in the runners bucket within ``timeout_s``."""
    nc = await nats.connect(running.nats_url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                kv = await nc.jetstream().key_value(RUNNERS_BUCKET)
                if (await kv.get(running.runner_id)).value:
                    return True
            except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):
                pass
            await asyncio.sleep(0.5)
        return False
    finally:
        await nc.close()


async def run_once_accepted(running: Running, code: str) -> Result:
    """Submit ``code`` on a new socket until the edge (reconnecting to NATS) accepts it."""
    while True:
        try:
            client = await Client.connect(running.ws_url)
            try:
                answer = await client.submit({"main.py": code})
                if answer["type"] == "status":
                    return await client.collect(answer["executionId"])
            finally:
                await client.close()
        except (OSError, websockets.WebSocketException):
            pass  # the edge is still reconnecting
        await asyncio.sleep(0.2)


async def test_jobs_accepted_before_a_restart_under_load_complete_once(
    restartable: Running,
) -> None:
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": "import time\ntime.sleep(0.5)\nprint('ok')"}]}
    async with (runs_seen(restartable.nats_url) as seen,
                httpx.AsyncClient(base_url=restartable.url, timeout=30, trust_env=False) as http):
        ids = [(await http.post("/api/v1/executions", json=body)).json()["id"] for _ in range(30)]
        await asyncio.to_thread(restartable.restart_nats)
        results = {i: await completed(http, i) for i in ids}
        await seen.settled()
    assert {r["verdict"] for r in results.values()} == {"ok"}
    for execution_id in ids:
        assert await completion_count(restartable.nats_url, execution_id) == 1
    # The counter was cut off too while the server was down (it may have missed a start or a
    # completion then), but a second run of any job would show.
    assert seen.twice(ids) == {}
    assert sum(seen.starts[i] for i in ids) > 0


async def completed(http: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    """The execution's result, waiting for its completion (the edge may still be reconnecting:
    a request that fails is asked again)."""
    while True:
        try:
            response = await http.get(f"/api/v1/executions/{execution_id}?wait=true&timeout=20")
        except httpx.TransportError:
            continue
        if response.status_code == 200 and response.json()["status"] == "completed":
            return response.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)

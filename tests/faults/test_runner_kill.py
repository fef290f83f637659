"""Two runner agents and two dispatchers on one platform with a global cap of three: the cap
holds across them and no job runs twice; a runner SIGKILLed mid-job loses nothing: the job
finishes on the other, with one completion."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Running
from tests.faults.conftest import CAP, runner_of
from tests.integration.wsclient import Client
from tests.runs_seen import runs_seen


@pytest.fixture
async def http(two_runners: tuple[Running, str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two_runners[0].url, timeout=90,
                                 trust_env=False) as client:
        yield client


async def test_the_cap_holds_across_two_runners_and_two_dispatchers(
    http: httpx.AsyncClient, two_runners: tuple[Running, str, int],
) -> None:
    code = "import time\nstart = time.time()\ntime.sleep(1)\nprint(start, time.time())\n"
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": code}]}
    async with runs_seen(two_runners[0].nats_url) as seen:
        ids = [(await http.post("/api/v1/executions", json=body)).json()["id"]
               for _ in range(3 * CAP)]
        spans = []
        for execution_id in ids:
            result = (await http.get(f"/api/v1/executions/{execution_id}?wait=true")).json()
            assert result["verdict"] == "ok", result
            spans.append(tuple(map(float, result["stdout"].split())))
        await seen.assert_once(ids)
    most = max(sum(1 for s in spans if s[0] <= t < s[1]) for t, _ in spans)
    assert most <= CAP, f"{most} programs ran at once"
    assert most >= 2, "the jobs never ran side by side"
    stats = (await http.get("/api/queue-stats")).json()
    assert stats["dispatchers"] == 2


async def test_a_job_on_a_killed_runner_finishes_on_the_other_once(
    two_runners: tuple[Running, str, int],
) -> None:
    running, second_id, second_pid = two_runners
    code = ("import socket, time\nprint(socket.gethostname(), flush=True)\n"
            "time.sleep(3)\nprint('done', flush=True)\n")
    client = await Client.connect(running.ws_url)
    try:
        async with runs_seen(running.nats_url) as seen:
            queued = await client.submit({"main.py": code})
            while (event := await client.receive())["type"] != "output":
                pass
            victim = runner_of(event["data"].strip())
            pids = {running.runner_id: running.pid("runner"), second_id: second_pid}
            os.kill(pids[victim], signal.SIGKILL)
            result = await asyncio.wait_for(client.collect(queued["executionId"]), 60)
            await seen.settled()
    finally:
        await client.close()
    assert result.verdict == "ok", result.events
    assert result.stdout.count("done") == 1, result.stdout
    [rerun_host] = [line for line in result.stdout.splitlines() if line != "done"]
    assert runner_of(rerun_host) != victim, "it ran again on the other runner"
    assert [e["status"] for e in result.events if e["type"] == "status"] == ["running"]
    # Begun twice (the killed run, then the rerun), completed once: the bound by design.
    execution_id = queued["executionId"]
    assert (seen.starts[execution_id], seen.completions[execution_id]) == (2, 1)


async def test_with_one_dispatcher_killed_the_other_keeps_dispatching(
    http: httpx.AsyncClient, two_runners: tuple[Running, str, int],
) -> None:
    running = two_runners[0]
    os.kill(running.pid("dispatcher"), signal.SIGKILL)
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": "print('dispatched')"}]}
    async with runs_seen(running.nats_url) as seen:
        ids = [(await http.post("/api/v1/executions", json=body)).json()["id"] for _ in range(4)]
        # A job that the killed dispatcher's last pull had taken waits for JOBS' ack wait (30 s).
        results = [await completed(http, execution_id) for execution_id in ids]
        assert [r["stdout"] for r in results] == ["dispatched\n"] * 4
        await seen.assert_once(ids)
    stats = (await http.get("/api/queue-stats")).json()
    assert stats["dispatchers"] == 1


async def completed(http: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    while True:
        result: dict[str, Any] = (
            await http.get(f"/api/v1/executions/{execution_id}?wait=true")).json()
        if result["status"] == "completed":
            return result

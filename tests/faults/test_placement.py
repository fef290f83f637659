"""With two runners and two dispatchers: a notebook's cells all reach the one kernel that holds
its state, a session's networked runs all reach its network, and a runner that goes silent
(SIGSTOP) has its waiting jobs moved to the other, then takes work again once it resumes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from coderunner.multihost import heartbeats
from contracts import subjects
from tests.conftest import Running
from tests.faults.conftest import runner_of
from tests.integration.test_notebooks import Notebook, kernel_containers
from tests.integration.test_sessions import CLIENT, start_server
from tests.integration.wsclient import Client, completion_count
from tests.runs_seen import runs_seen

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
async def http(two_runners: tuple[Running, str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=two_runners[0].url, timeout=120,
                                 trust_env=False) as client:
        yield client


async def jobs_run(nats_url: str, runner_id: str) -> int | None:
    """Jobs a runner has run, from its last heartbeat; None before its first."""
    info = (await heartbeats(nats_url, [runner_id])).get(runner_id)
    return info.jobs if info else None


async def settled_jobs_run(nats_url: str, runner_id: str) -> int:
    """Jobs a runner has run, once two heartbeats in a row say the same (it is up, and what
    earlier tests gave it is counted)."""
    last = None
    while True:
        now = await jobs_run(nats_url, runner_id)
        if now is not None and now == last:
            return now
        last = now
        await asyncio.sleep(subjects.RUNNER_HEARTBEAT_S + 0.5)


async def test_a_notebooks_cells_all_reach_its_one_kernel(
        two_runners: tuple[Running, str, int]) -> None:
    running, second_id, _ = two_runners
    clients = [await Client.connect(running.ws_url) for _ in range(3)]
    try:
        notebooks = [await Notebook.open(client) for client in clients]
        for notebook in notebooks:
            assert (await notebook.run("x = 0")).verdict == "ok"
        for _ in range(4):
            cells = await asyncio.gather(*(nb.run("x += 1\nx") for nb in notebooks))
            assert all(cell.verdict == "ok" for cell in cells), [c.events for c in cells]
        assert [cell.text() for cell in cells] == ["4"] * 3, "every cell saw its notebook's state"
        kernels = {runner: len(kernel_containers(runner))
                   for runner in (running.runner_id, second_id)}
        assert sum(kernels.values()) == 3, f"one kernel per notebook, no more: {kernels}"
        for notebook in notebooks:
            await notebook.command("close")
    finally:
        for client in clients:
            await client.close()


async def test_a_sessions_networked_runs_all_reach_its_network(
        two_runners: tuple[Running, str, int]) -> None:
    running = two_runners[0]
    clients = [await Client.connect(running.ws_url) for _ in range(2)]
    try:
        servers = [(await start_server(client))[0] for client in clients]
        for attempt in range(3):
            for client in clients:
                result = await client.run({"client.py": CLIENT}, request_id=f"c{attempt}")
                assert (result.verdict, result.stdout) == ("ok", "echo:hello\n"), result.events
        for client, server in zip(clients, servers, strict=True):
            await client.send({"type": "stop", "executionId": server})
            assert (await client.collect(server)).verdict == "cancelled"
    finally:
        for client in clients:
            await client.close()


async def test_a_silent_runners_jobs_move_and_it_works_again_once_back(
        two_runners: tuple[Running, str, int], http: httpx.AsyncClient) -> None:
    running, second_id, second_pid = two_runners
    body = {"language": "python", "mainFile": "main.py",
            "files": [{"name": "main.py", "content": "print(6 * 7)"}]}
    before_stop = await settled_jobs_run(running.nats_url, second_id)
    async with runs_seen(running.nats_url) as seen:
        os.kill(second_pid, signal.SIGSTOP)
        try:
            ids = [(await http.post("/api/v1/executions", json=body)).json()["id"]
                   for _ in range(10)]
            results = await asyncio.gather(*(
                http.get(f"/api/v1/executions/{eid}?wait=true&timeout=100") for eid in ids))
            assert [(r.json()["verdict"], r.json()["stdout"]) for r in results] == \
                [("ok", "42\n")] * 10, [r.json() for r in results]
        finally:
            os.kill(second_pid, signal.SIGCONT)
        # Jobs sent to it while it was paused ran once, elsewhere: none when it resumed.
        await seen.assert_once(ids)
    for execution_id in ids:
        assert await completion_count(running.nats_url, execution_id) == 1
    before = await settled_jobs_run(running.nats_url, second_id)
    assert before == before_stop, "resumed, it ran none of the jobs moved off it"
    # Three new owners at once, each with a program long enough to overlap the others: an
    # owner's jobs keep to the runner of its first while it has a free slot (its kept
    # containers live there: the API's jobs here all went to the other runner), and each
    # dispatcher breaks ties between idle runners its own way (one at a time, the same runner
    # may win every time).
    deadline = time.monotonic() + 120
    while await jobs_run(running.nats_url, second_id) == before:
        assert time.monotonic() < deadline, "the resumed runner never took a job again"
        owners = [await Client.connect(running.ws_url) for _ in range(3)]
        try:
            more = await asyncio.gather(*(
                owner.run({"main.py": "import time\ntime.sleep(1)\nprint(6 * 7)"})
                for owner in owners))
        finally:
            for owner in owners:
                await owner.close()
        assert [(r.verdict, r.stdout) for r in more] == [("ok", "42\n")] * 3, \
            [r.events for r in more]
        await asyncio.sleep(subjects.RUNNER_HEARTBEAT_S)


async def test_a_runner_paused_mid_job_runs_it_at_most_twice_and_its_client_sees_one_end(
        two_runners: tuple[Running, str, int]) -> None:
    """By design the one case of a job begun twice on live runners: its runner is paused past
    RUNNER_SILENT_S while running it, so it moves and runs again; resumed, the paused runner
    finishes its own run too. The bound: begun twice, ended twice, completed once (the resumed
    runner's completion is refused: the job was given to the other since), one completion on
    the client's socket."""
    running, second_id, second_pid = two_runners
    pids = {running.runner_id: running.pid("runner"), second_id: second_pid}
    code = ("import socket, time\nprint(socket.gethostname(), flush=True)\n"
            "time.sleep(20)\nprint('done', flush=True)\n")
    client = await Client.connect(running.ws_url)
    try:
        async with runs_seen(running.nats_url) as seen:
            queued = await client.submit({"main.py": code}, limits={"wallMs": 120_000})
            execution_id = queued["executionId"]
            while (event := await client.receive())["type"] != "output":
                pass
            paused = pids[runner_of(event["data"].strip())]
            os.kill(paused, signal.SIGSTOP)
            try:
                while seen.starts[execution_id] < 2:  # moved, and begun on the other runner
                    await asyncio.sleep(0.2)
            finally:
                os.kill(paused, signal.SIGCONT)
            result = await client.collect(execution_id)
            while seen.ended[execution_id] < 2:  # the resumed runner ends its own run
                await asyncio.sleep(0.2)
            after = await client.run({"main.py": "print('after')"})  # behind any late event
            await seen.settled()
    finally:
        await client.close()
    assert result.verdict == "ok", result.events
    assert (after.verdict, after.stdout) == ("ok", "after\n")
    # The resumed runner's completion is refused (the job was given to the other since):
    # published once.
    assert (seen.starts[execution_id], seen.ended[execution_id]) == (2, 2)
    assert seen.completions[execution_id] == 1
    assert not [e for e in client.pending if e.get("executionId") == execution_id], \
        "the client saw one completion"
    assert await completion_count(running.nats_url, execution_id) == 1

"""The edge SIGKILLed while browsers are connected and their programs run: a new edge comes up,
the clients reconnect with their session tokens, attach to the executions they had submitted
and get every result (stored output and completion, or the live rest), each exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client, completion_count
from tests.runs_seen import runs_seen

CLIENTS = 6
SLOW = "import time, sys\nprint('started', flush=True)\ntime.sleep({s})\nprint('done {n}')\n"
FAST = "print('fast {n}')\n"


@pytest.fixture(scope="module")
def platform_with_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Edges share SESSION_SECRET: the new edge accepts the old edge's tokens and ids."""
    with running_platform(tmp_path_factory.mktemp("edge-kill"),
                          SESSION_SECRET="edge-kill-test-secret-0123456789") as running:
        yield running


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the new edge did not become healthy")


async def submitted(client: Client, n: int) -> dict[str, str]:
    """Execution id → expected last line, for a slow and a fast program of client ``n``."""
    expected = {}
    for name, code, last in (("slow.py", SLOW.format(s=4 + n % 3, n=n), f"done {n}"),
                             ("fast.py", FAST.format(n=n), f"fast {n}")):
        queued = await client.submit({name: code}, request_id=name)
        assert queued["type"] == "status", queued
        expected[queued["executionId"]] = last
    return expected


async def until_one_done_and_one_running(client: Client, expected: dict[str, str]) -> None:
    """Read the socket until the fast program has completed and the slow one has started."""
    slow, fast = expected
    started = done = False
    while not (started and done):
        event = await client.receive()
        started |= event.get("executionId") == slow and event["type"] == "output"
        done |= event.get("executionId") == fast and event["type"] == "completion"


async def results(client: Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Attach to ``ids`` and read each one's events to its completion."""
    for execution_id in ids:
        await client.send({"type": "attach", "executionId": execution_id})
    found = {}
    for execution_id in ids:
        result = await client.collect(execution_id)
        found[execution_id] = {"verdict": result.verdict, "stdout": result.stdout}
    return found


async def test_clients_reconnect_to_a_new_edge_and_get_their_results(
        platform_with_secret: Running) -> None:
    running = platform_with_secret
    async with runs_seen(running.nats_url) as seen:
        clients = [await Client.connect(running.ws_url) for _ in range(CLIENTS)]
        expected = [await submitted(client, n) for n, client in enumerate(clients)]
        tokens = [client.session["token"] for client in clients]
        for client, mapping in zip(clients, expected, strict=True):
            await asyncio.wait_for(until_one_done_and_one_running(client, mapping), 60)

        assert running.up is not None
        os.kill(running.pid("edge"), signal.SIGKILL)
        running.up.children["edge"].wait()
        replacement = subprocess.Popen([sys.executable, "-m", "coderunner", "edge"],
                                       env=running.up.env)
        running.up.children["edge"] = replacement  # the platform's stop() ends it
        await asyncio.to_thread(wait_healthy, running.url)

        for client in clients:
            with pytest.raises(websockets.ConnectionClosed):  # it died with its edge
                while True:
                    await client.ws.recv()
            await client.close()
        await reconnect_and_check(running, tokens, clients, expected)
        await seen.assert_once(i for mapping in expected for i in mapping)


async def reconnect_and_check(running: Running, tokens: list[str], clients: list[Client],
                              expected: list[dict[str, str]]) -> None:
    """Each client comes back with its token and gets every result of its session."""
    back = [await Client.connect(running.ws_url, token=token) for token in tokens]
    try:
        for n, client in enumerate(back):
            assert client.session["resumed"] is True
            assert client.session["sessionId"] == clients[n].session["sessionId"]
            found = await asyncio.wait_for(results(client, list(expected[n])), 60)
            for execution_id, last in expected[n].items():
                assert found[execution_id]["verdict"] == "ok", found[execution_id]
                assert found[execution_id]["stdout"].splitlines()[-1] == last
        for execution_id in (i for mapping in expected for i in mapping):
            assert await completion_count(running.nats_url, execution_id) == 1
        # Another session's execution is not this session's to attach to.
        stranger = next(iter(expected[1]))
        await back[0].send({"type": "attach", "executionId": stranger})
        refused = await back[0].receive()
        assert refused["type"] == "error" and refused["code"] == "not_found"
    finally:
        for client in back:
            await client.close()

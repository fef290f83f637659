"""Two edges serve one platform: the rate limit and the quota of a key are shared, and a client
gets its results whichever edge it talks to. The platform's own edge is edge A; edge B is a
second ``coderunner edge`` process with the same settings on another port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from coderunner.nats_server import free_port
from contracts.subjects import quota_key, rate_key
from edge.auth import TokenBucket, Unfinished
from edge.bus import EdgeBus
from edge.limits import ApiKeyLimits
from tests.conftest import KEYS, PRINT, SPIN, Running, bearer, cancel, running_platform
from tests.integration.wsclient import Client

RATE = 12
@pytest.fixture(scope="module")
def platform_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = {
        "API_KEYS": ",".join(f"{name}:{secret}" for name, secret in KEYS.items()),
        "ADMIN_KEYS": "ops",
        "RATE_LIMIT_PER_MINUTE": str(RATE),
        "KEY_MAX_CONCURRENT": "2",
        "SESSION_SECRET": "session-secret-two-edges-0123456789",
        "WEBHOOK_SECRET": "whsec-two-edges-0123456789",
    }
    with running_platform(tmp_path_factory.mktemp("two-edges"), **settings) as running:
        yield running


@dataclass
class SecondEdge:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"


def start_edge(platform: Running) -> SecondEdge:
    assert platform.up is not None
    port = free_port()
    env = {**platform.up.env, "EDGE_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "coderunner", "edge"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"edge B exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return SecondEdge(url, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("edge B did not get ready")


def stop_edge(edge: SecondEdge) -> None:
    if edge.process.poll() is None:
        edge.process.send_signal(signal.SIGTERM)
        try:
            edge.process.wait(10)
        except subprocess.TimeoutExpired:
            edge.process.kill()
            edge.process.wait()


@pytest.fixture
def edge_b(platform_a: Running) -> Iterator[SecondEdge]:
    edge = start_edge(platform_a)
    try:
        yield edge
    finally:
        stop_edge(edge)


@pytest.fixture
async def clients(platform_a: Running, edge_b: SecondEdge
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=platform_a.url, timeout=60, trust_env=False) as a, \
            httpx.AsyncClient(base_url=edge_b.url, timeout=60, trust_env=False) as b:
        yield a, b


@pytest.fixture
async def bus(platform_a: Running) -> AsyncIterator[EdgeBus]:
    """The limits bucket as an edge sees it."""
    bus = EdgeBus(platform_a.nats_url)
    await bus.connect(once=True)
    try:
        yield bus
    finally:
        await bus.close()


async def unfinished_of(bus: EdgeBus, name: str) -> set[str]:
    stored = await bus.limits.read_limit(quota_key(name), Unfinished)
    return set(stored.since) if stored else set()


async def unfinished_once_released(bus: EdgeBus, name: str) -> set[str]:
    """The key's counted executions once the edges have freed what completed: an edge frees
    its admissions on the completion event, after a ``?wait=true`` answer may have gone."""
    deadline = time.monotonic() + 60
    while (left := await unfinished_of(bus, name)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


async def test_the_rate_limit_is_one_budget_across_both_edges(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = clients
    answers = []
    for i in range(2 * RATE):  # per edge, each would allow RATE
        edge = a if i % 2 == 0 else b
        answers.append(await edge.get("/api/v1/executions/none", headers=bearer("dave")))
    codes = [answer.status_code for answer in answers]
    assert codes == [404] * RATE + [429] * RATE  # refill is 1 every 5 s: none meanwhile
    refused = answers[RATE].json()["error"]
    assert refused["code"] == "rate_limited"
    assert int(answers[RATE].headers["retry-after"]) >= 1
    assert (await b.get("/api/v1/executions/none", headers=bearer("bob"))).status_code == 404


async def test_the_quota_is_shared_and_freed_by_the_edge_that_admitted(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], bus: EdgeBus,
) -> None:
    a, b = clients
    carol = bearer("carol")
    running = []
    for _ in range(2):
        accepted = await a.post("/api/v1/executions", json=SPIN, headers=carol)
        assert accepted.status_code == 202
        running.append(accepted.json()["id"])
    assert await unfinished_of(bus, "carol") == set(running)
    third = await b.post("/api/v1/executions", json=PRINT, headers=carol)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "quota_exceeded"
    for execution_id in running:  # cancelled through B; A saw them complete and frees them
        assert (await cancel(b, execution_id, carol))["verdict"] == "cancelled"
    assert await unfinished_once_released(bus, "carol") == set()
    after = await b.post("/api/v1/executions?wait=true", json=PRINT, headers=carol)
    assert after.status_code == 200
    assert after.json()["verdict"] == "ok"


async def test_a_dead_edges_executions_leave_the_quota_when_they_complete(
    platform_a: Running, bus: EdgeBus,
) -> None:
    alice = bearer("alice")
    edge = start_edge(platform_a)
    try:
        async with httpx.AsyncClient(base_url=edge.url, timeout=60, trust_env=False) as b:
            running = [(await b.post("/api/v1/executions", json=SPIN, headers=alice)).json()["id"]
                       for _ in range(2)]
    finally:
        edge.process.kill()  # no goodbye: its admissions stay in the bucket
        edge.process.wait()
    assert await unfinished_of(bus, "alice") == set(running)
    async with httpx.AsyncClient(base_url=platform_a.url, timeout=60, trust_env=False) as a:
        assert (await a.post("/api/v1/executions", json=PRINT, headers=alice)).status_code == 429
        for execution_id in running:
            assert (await cancel(a, execution_id, alice))["verdict"] == "cancelled"
        assert await unfinished_of(bus, "alice") == set(running)  # no edge of theirs is left
        after = await a.post("/api/v1/executions?wait=true", json=PRINT, headers=alice)
        assert after.status_code == 200
        assert after.json()["stdout"] == "hi\n"
    assert await unfinished_once_released(bus, "alice") == set()


async def test_an_execution_posted_on_one_edge_is_awaited_on_the_other(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = clients
    program = {**PRINT, "files": [{"name": "main.py",
                                   "content": "import time; time.sleep(1); print('late')"}]}
    accepted = await a.post("/api/v1/executions", json=program, headers=bearer("bob"))
    assert accepted.status_code == 202
    result = await b.get(f"/api/v1/executions/{accepted.json()['id']}?wait=true",
                         headers=bearer("bob"))
    assert result.status_code == 200
    assert result.json()["status"] == "completed"
    assert result.json()["stdout"] == "late\n"


async def test_a_socket_on_the_second_edge_gets_its_run_and_resumes_a_session_of_the_first(
    platform_a: Running, edge_b: SecondEdge,
) -> None:
    on_a = await Client.connect(platform_a.ws_url)
    on_b = await Client.connect(edge_b.ws_url, token=on_a.session["token"])
    try:
        assert on_b.session["resumed"] is True
        assert on_b.session["sessionId"] == on_a.session["sessionId"]
        result = await asyncio.wait_for(on_b.run({"main.py": "print(6 * 7)"}), 60)
        assert result.verdict == "ok"
        assert result.stdout == "42\n"
        assert [e["type"] for e in result.events][-1] == "completion"
    finally:
        await on_a.close()
        await on_b.close()


async def test_concurrent_edges_lose_no_update(platform_a: Running) -> None:
    """Compare-and-set on the real bucket: 2 edges x 100 concurrent takes spend 200 tokens."""
    buses = [EdgeBus(platform_a.nats_url), EdgeBus(platform_a.nats_url)]
    for edge_bus in buses:
        await edge_bus.connect(once=True)
    try:
        now = time.time()  # a clock that stands still: no refill
        limits = [ApiKeyLimits(b.limits, b.events.completion, b.records.get, 1_000, 2,
                               clock=lambda: now) for b in buses]
        waits = await asyncio.gather(*(limits[i % 2].take("cas-test") for i in range(200)))
        assert waits == [0.0] * 200
        stored = await buses[0].limits.read_limit(rate_key("cas-test"), TokenBucket)
        assert stored == TokenBucket(800.0, now)
        started = time.perf_counter()
        for _ in range(100):
            await limits[0].take("cas-cost")
        per_take_ms = (time.perf_counter() - started) * 10
        print(f"one rate-limit take (get + compare-and-set): {per_take_ms:.2f} ms")
    finally:
        for edge_bus in buses:
            await edge_bus.close()


async def test_an_unreachable_limits_store_answers_503_not_unlimited(
    platform_a: Running, bus: EdgeBus,
) -> None:
    assert platform_a.nats is not None and platform_a.nats.process is not None
    nats_pid = platform_a.nats.process.pid
    async with httpx.AsyncClient(base_url=platform_a.url, timeout=60, trust_env=False) as a:
        os.kill(nats_pid, signal.SIGSTOP)  # NATS hangs: no answer, no error
        try:
            answer = await a.get("/api/v1/executions/none", headers=bearer("ops"))
        finally:
            os.kill(nats_pid, signal.SIGCONT)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "not_ready"
        assert "rate limits and quotas" in answer.json()["error"]["message"]
        assert answer.headers["retry-after"] == "1"
        deadline = time.monotonic() + 60
        while (await a.get("/api/v1/executions/none", headers=bearer("ops"))).status_code == 503:
            assert time.monotonic() < deadline, "the edge did not recover"
            await asyncio.sleep(0.2)

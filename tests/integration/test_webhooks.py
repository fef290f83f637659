"""Webhooks delivered to a real HTTP receiver on loopback: signed, retried after a failure,
and their delivery state visible on the execution."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import KEYS, WEBHOOK_ATTEMPTS, WEBHOOK_SECRET, Running

AUTH = {"Authorization": f"Bearer {KEYS['alice']}"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    answers: queue.Queue[int] = field(default_factory=queue.Queue)
    received: list[Received] = field(default_factory=list)
    stop: Callable[[], None] = lambda: None

    async def wait_for(self, count: int, timeout_s: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} callbacks"
            await asyncio.sleep(0.05)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on loopback that records every POST and answers with the next queued
    status (200 when none is queued)."""
    started = start_receiver(0)
    yield started
    started.stop()


def start_receiver(port: int) -> Receiver:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            me = holder[0]
            me.received.append(Received(dict(self.headers.items()), body, time.time()))
            status = 200 if me.answers.empty() else me.answers.get()
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    holder.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    holder[0].stop = stop
    return holder[0]


@pytest.fixture
async def http(keyed: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=keyed.url, timeout=60, trust_env=False) as client:
        yield client


def verify(received: Received) -> bool:
    """The receiver's side, as docs/api.md shows it."""
    parts = dict(p.split("=", 1) for p in received.headers["X-CodeRunner-Signature"].split(","))
    mac = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + received.body,
                   hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


async def test_the_result_is_posted_signed_to_the_callback_url(
    http: httpx.AsyncClient, receiver: Receiver,
) -> None:
    body = {"language": "python", "mainFile": "main.py", "callbackUrl": receiver.url,
            "files": [{"name": "main.py", "content": "print('called back')"}]}
    accepted = (await http.post("/api/v1/executions", json=body, headers=AUTH)).json()
    [received] = await receiver.wait_for(1)
    assert verify(received)
    assert received.headers["X-CodeRunner-Execution"] == accepted["id"]
    payload = httpx.Response(200, content=received.body).json()
    assert (payload["id"], payload["verdict"], payload["stdout"]) == (
        accepted["id"], "ok", "called back\n")
    tampered = Received(received.headers, received.body.replace(b"called", b"CALLED"), 0)
    assert not verify(tampered)
    state = await until_delivered(http, accepted["id"])
    assert state["attempts"] == 1
    assert state["lastStatusCode"] == 200


async def test_a_failed_delivery_is_retried_until_it_succeeds(
    http: httpx.AsyncClient, receiver: Receiver,
) -> None:
    receiver.answers.put(500)
    receiver.answers.put(503)
    body = {"language": "python", "mainFile": "main.py", "callbackUrl": receiver.url,
            "files": [{"name": "main.py", "content": "print(1)"}]}
    accepted = (await http.post("/api/v1/executions", json=body, headers=AUTH)).json()
    calls = await receiver.wait_for(3)
    assert all(verify(c) for c in calls)
    assert [c.headers["X-CodeRunner-Attempt"] for c in calls] == ["1", "2", "3"]
    assert calls[1].at - calls[0].at >= 0.9  # backoff 1 s, then 2 s
    assert calls[2].at - calls[1].at >= 1.9
    state = await until_delivered(http, accepted["id"])
    assert (state["attempts"], state["lastStatusCode"]) == (3, 200)


async def until_delivered(http: httpx.AsyncClient, execution_id: str) -> dict[str, object]:
    return await webhook_state(http, execution_id, "delivered")


async def webhook_state(http: httpx.AsyncClient, execution_id: str, status: str,
                        attempts: int = 1) -> dict[str, object]:
    """The execution's webhook state once it is ``status`` after ``attempts`` at least."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await http.get(f"/api/v1/executions/{execution_id}", headers=AUTH)
        if response.status_code == 429:  # the key's rate limit: the tests share it
            await asyncio.sleep(float(response.headers["retry-after"]))
            continue
        state: dict[str, object] = response.json().get("webhook") or {}
        if state.get("status") == status and int(str(state["attempts"])) >= attempts:
            return state
        assert state.get("status") in (None, "pending", "retrying"), state
        await asyncio.sleep(0.25)
    raise AssertionError(f"the webhook state stayed {state}")


async def test_a_receiver_down_at_first_gets_the_callback_once_it_is_back(
    http: httpx.AsyncClient,
) -> None:
    """Nothing listens on the callback's port at the first attempt; then a receiver starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = {"language": "python", "mainFile": "main.py",
            "callbackUrl": f"http://127.0.0.1:{port}/late",
            "files": [{"name": "main.py", "content": "print('worth the wait')"}]}
    accepted = (await http.post("/api/v1/executions", json=body, headers=AUTH)).json()
    retrying = await webhook_state(http, accepted["id"], "retrying")
    assert retrying["lastError"], retrying
    late = start_receiver(port)
    try:
        [received] = await late.wait_for(1, timeout_s=45)
    finally:
        late.stop()
    assert verify(received)
    assert b"worth the wait" in received.body
    state = await until_delivered(http, accepted["id"])
    assert isinstance(state["attempts"], int) and state["attempts"] >= 2


async def test_a_callback_that_fails_every_attempt_ends_failed_on_the_execution(
    http: httpx.AsyncClient, receiver: Receiver,
) -> None:
    for _ in range(WEBHOOK_ATTEMPTS + 1):
        receiver.answers.put(500)
    body = {"language": "python", "mainFile": "main.py", "callbackUrl": receiver.url,
            "files": [{"name": "main.py", "content": "print('nobody takes it')"}]}
    accepted = (await http.post("/api/v1/executions", json=body, headers=AUTH)).json()
    state = await webhook_state(http, accepted["id"], "failed")
    assert (state["attempts"], state["lastStatusCode"]) == (WEBHOOK_ATTEMPTS, 500), state
    assert [c.headers["X-CodeRunner-Attempt"] for c in receiver.received] == [
        str(n) for n in range(1, WEBHOOK_ATTEMPTS + 1)], "no attempt after the last"
    execution = (await http.get(f"/api/v1/executions/{accepted['id']}", headers=AUTH)).json()
    assert (execution["status"], execution["verdict"]) == ("completed", "ok")

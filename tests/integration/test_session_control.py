"""Session control on a real platform: a reset stops what the session runs (a server in another
console tab), empties its MySQL and removes its kept sandboxes and network; the API's session
of a key shows and resets its kept sandboxes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import PRINT, Running
from tests.integration.test_sessions import SERVER
from tests.integration.wsclient import Client, Event


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    connected = await Client.connect(platform.ws_url)
    yield connected
    await connected.close()


async def session_control(client: Client, action: str) -> tuple[Event, list[Event]]:
    """Send a session_control frame; its session_state answer, and what came before it."""
    await client.send({"type": "session_control", "action": action, "requestId": action})
    before = []
    while (event := await client.receive())["type"] != "session_state":
        assert event["type"] != "error", event
        before.append(event)
    assert (event["action"], event["requestId"]) == (action, action)
    return event, before


def holding(state: Event) -> dict[str, Any]:
    """The one runner's answer (the platform has one runner)."""
    [answer] = state["resources"]
    return dict(answer)


async def test_a_reset_stops_the_server_and_empties_the_database(client: Client) -> None:
    create = await client.run({"schema.sql": "CREATE TABLE t (n INT);\nINSERT INTO t VALUES (1);"},
                              language="sql", request_id="create")
    assert create.verdict == "ok", create.stderr
    queued = await client.submit({"server.py": SERVER}, request_id="server")
    server = queued["executionId"]
    while (event := await client.receive()).get("type") != "output":
        assert event.get("type") != "completion", event

    listed, _ = await session_control(client, "list")
    assert listed["running"] == [{"executionId": server, "status": "running"}]
    assert create.execution_id in listed["recent"]
    shown, _ = await session_control(client, "resources")
    held = holding(shown)
    assert held["database"] is True and held["network"]
    assert held["databaseKb"] > 0
    assert {s["slot"] for s in held["sandboxes"]} == {"schema.sql"}  # the server's is running

    reset, before = await session_control(client, "reset")
    assert reset["stopped"] == [server]
    assert [(e["executionId"], e["verdict"]) for e in before if e["type"] == "completion"] == [
        (server, "cancelled")]
    removed = holding(reset)
    assert removed["database"] is True and removed["network"] == held["network"]
    assert {s["slot"] for s in removed["sandboxes"]} == {"schema.sql", "server.py"}
    assert reset["running"] == []

    read = await client.run({"read.sql": "SELECT COUNT(*) FROM t;"}, language="sql",
                            request_id="read")
    assert read.verdict == "runtime_error"
    assert "doesn't exist" in read.stderr
    after, _ = await session_control(client, "resources")
    assert holding(after)["sandboxes"] == [{"slot": "read.sql", "language": "sql",
                                            "isolation": "runc", "networked": True}]


async def test_an_api_reset_removes_the_keys_sandboxes_and_kernels(platform: Running) -> None:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as http:
        ran = await http.post("/api/v1/executions?wait=true", json=PRINT)
        assert ran.json()["verdict"] == "ok"
        notebook = f"reset-{uuid.uuid4().hex[:8]}"
        opened = await http.post("/api/v1/notebooks", json={"notebookId": notebook})
        assert opened.status_code == 201
        cells = f"/api/v1/notebooks/{notebook}/cells?wait=true"
        assert (await http.post(cells, json={"code": "x = 41"})).json()["verdict"] == "ok"
        shown = (await http.get("/api/v1/session")).json()
        [held] = shown["resources"]
        assert {s["slot"] for s in held["sandboxes"]} >= {"api:python"}
        assert held["kernels"] >= 1
        reset = (await http.post("/api/v1/session/reset")).json()
        [removed] = reset["resources"]
        assert {s["slot"] for s in removed["sandboxes"]} >= {"api:python"}
        assert removed["kernels"] == held["kernels"]
        [after] = (await http.get("/api/v1/session")).json()["resources"]
        assert (after.get("sandboxes", []), after.get("kernels", 0)) == ([], 0)
        fresh = (await http.post(cells, json={"code": "x"})).json()
        assert fresh["verdict"] == "runtime_error"  # a new kernel, without the state
        assert fresh["outputs"][-1]["ename"] == "NameError"

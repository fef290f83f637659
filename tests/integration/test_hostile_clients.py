"""Issue 17's reproductions, against a real platform: one socket cannot take every slot, a web
page cannot drive the local API, a NUL byte or a deeply nested frame breaks nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import PRINT, Running
from tests.integration.wsclient import Client

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(120)\n"
SESSION_MAX_UNFINISHED = 16
"""The default SESSION_MAX_UNFINISHED."""


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    client = await Client.connect(platform.ws_url)
    yield client
    await client.close()


async def test_one_socket_cannot_hold_more_than_its_share_of_unfinished_runs(
    platform: Running, client: Client,
) -> None:
    held = []
    try:
        for n in range(SESSION_MAX_UNFINISHED):
            queued = await client.submit({"main.py": SLEEPER}, request_id=f"r{n}")
            assert queued["type"] == "status", queued
            held.append(queued["executionId"])
        refused = await client.submit({"main.py": SLEEPER}, request_id="one-too-many")
        assert (refused["type"], refused["code"], refused["requestId"]) == (
            "error", "quota_exceeded", "one-too-many")
        assert f"{SESSION_MAX_UNFINISHED} executions unfinished" in refused["message"]
        other = await Client.connect(platform.ws_url)
        try:
            assert (await other.run({"main.py": "print('mine')"})).stdout == "mine\n"
        finally:
            await other.close()
    finally:
        for execution_id in held:
            await client.send({"type": "stop", "executionId": execution_id})
        verdicts = {(await client.collect(e)).verdict for e in held}
    assert verdicts == {"cancelled"}
    assert (await client.run({"main.py": "print('room again')"})).stdout == "room again\n"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
async def test_the_api_takes_only_json_bodies(platform: Running, content_type: str | None
                                              ) -> None:
    body = httpx.Request("POST", "/", json=PRINT).content
    headers = {"Content-Type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=platform.url, trust_env=False) as http:
        answer = await http.post("/api/v1/executions", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"]["code"] == "unsupported_media_type"


async def test_a_cross_site_request_is_refused_even_without_keys(platform: Running) -> None:
    async with httpx.AsyncClient(base_url=platform.url, trust_env=False) as http:
        answer = await http.post("/api/v1/executions", json=PRINT,
                                 headers={"Origin": "http://evil.example"})
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "origin_not_allowed"
        own = platform.url.rstrip("/")
        mine = await http.post("/api/v1/executions", json=PRINT, headers={"Origin": own})
        assert mine.status_code == 202, mine.text
        reading = await http.get(f"/api/v1/executions/{mine.json()['id']}",
                                 headers={"Origin": "http://evil.example"})
        assert reading.status_code == 200, "reads are not state-changing; CORS guards them"
        assert "access-control-allow-origin" not in reading.headers


async def test_a_nul_byte_in_args_is_an_invalid_request(client: Client) -> None:
    refused = await client.submit({"main.py": "import sys; print(sys.argv)"},
                                  args=["a\u0000b"], request_id="nul")
    assert (refused["type"], refused["code"]) == ("error", "invalid_request"), refused
    assert refused["requestId"] == "nul"
    result = await client.run({"main.py": "import sys; print(sys.argv[1:])"}, args=["a", "b"])
    assert (result.verdict, result.stdout) == ("ok", "['a', 'b']\n")


async def test_a_deeply_nested_frame_is_an_invalid_request_and_the_socket_stays(
    client: Client,
) -> None:
    await client.send("[" * 200_000 + "]" * 200_000)
    answer = await client.receive()
    assert (answer["type"], answer["code"]) == ("error", "invalid_request"), answer
    assert "nested" in answer["message"]
    assert (await client.run({"main.py": "print('still here')"})).stdout == "still here\n"

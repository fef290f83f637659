"""API keys on a platform that has them: refusals, per-key ownership, the rate limit, the quota
of unfinished executions and the admin-only endpoints."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import KEYS, PRINT, SPIN, Running, bearer, cancel
from tests.runs_seen import runs_seen


@pytest.fixture
async def http(keyed: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=keyed.url, timeout=60, trust_env=False) as client:
        yield client


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": KEYS["alice"]},
    {"Authorization": f"Basic {KEYS['alice']}"},
])
async def test_requests_without_a_valid_key_are_refused(
    http: httpx.AsyncClient, headers: dict[str, str],
) -> None:
    for method, path in (("POST", "/api/v1/executions"), ("GET", "/api/v1/executions/x"),
                         ("GET", "/api/queue-stats"), ("GET", "/metrics")):
        response = await http.request(method, path, headers=headers, json=PRINT)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_a_key_sees_only_its_own_executions(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/executions?wait=true", json=PRINT,
                               headers=bearer("alice"))
    assert response.status_code == 200
    assert response.json()["stdout"] == "hi\n"
    execution = f"/api/v1/executions/{response.json()['id']}"
    assert (await http.get(execution, headers=bearer("alice"))).status_code == 200
    assert (await http.get(execution, headers=bearer("bob"))).status_code == 404
    assert (await http.delete(execution, headers=bearer("bob"))).status_code == 404
    for name, sees in (("alice", True), ("bob", False)):
        page = await http.get("/api/v1/executions", headers=bearer(name))
        assert page.status_code == 200
        listed = [e["id"] for e in page.json()["executions"]]
        assert (response.json()["id"] in listed) is sees, name


async def test_admin_endpoints_need_an_admin_key(http: httpx.AsyncClient) -> None:
    for path in ("/api/admin/metrics", "/metrics"):
        refused = await http.get(path, headers=bearer("alice"))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert (await http.get(path, headers=bearer("ops"))).status_code == 200
    assert (await http.get("/api/queue-stats", headers=bearer("alice"))).status_code == 200


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    http: httpx.AsyncClient,
) -> None:
    dave = bearer("dave")  # this test's own key
    started = time.monotonic()
    answers = [(await http.get("/api/v1/executions/none", headers=dave)).status_code
               for _ in range(70)]
    refilled = int(time.monotonic() - started) + 1  # 1 a second, however slow the machine
    allowed = answers.index(429)
    assert 60 <= allowed <= 60 + refilled, (allowed, refilled)  # the burst, plus the refill
    assert set(answers[:allowed]) == {404}
    limited = await http.get("/api/v1/executions/none", headers=dave)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    other = await http.get("/api/v1/executions/none", headers=bearer("alice"))
    assert other.status_code == 404  # another key is not limited


async def test_a_key_with_two_unfinished_executions_must_wait(http: httpx.AsyncClient) -> None:
    carol = bearer("carol")
    running: list[dict[str, Any]] = []
    for _ in range(2):
        response = await http.post("/api/v1/executions", json=SPIN, headers=carol)
        assert response.status_code == 202
        running.append(response.json())
    third = await http.post("/api/v1/executions", json=PRINT, headers=carol)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "quota_exceeded"
    assert "retry-after" in third.headers
    assert (await http.post("/api/v1/executions", json=PRINT, headers=bearer("alice"))
            ).status_code == 202
    for accepted in running:
        assert (await cancel(http, accepted["id"], carol))["verdict"] == "cancelled"
    after = await http.post("/api/v1/executions?wait=true", json=PRINT, headers=carol)
    assert after.status_code == 200
    assert after.json()["verdict"] == "ok"


async def test_callbacks_to_metadata_addresses_are_refused(http: httpx.AsyncClient) -> None:
    for url in ("http://169.254.169.254/latest", "http://metadata.google.internal/x",
                "http://[fe80::1]/x", "ftp://example.org/x"):
        response = await http.post("/api/v1/executions", json={**PRINT, "callbackUrl": url},
                                   headers=bearer("alice"))
        assert response.status_code == 400, url
        assert response.json()["error"]["code"] == "invalid_callback_url"


async def test_one_idempotency_key_sent_twice_at_once_is_one_execution_per_api_key(
    http: httpx.AsyncClient, keyed: Running,
) -> None:
    key = f"same-moment-{uuid.uuid4().hex}"

    async def create(name: str) -> httpx.Response:
        """POST until accepted: the twin may be told to retry (409) while the first is
        being accepted."""
        headers = {**bearer(name), "Idempotency-Key": key}
        while True:
            answer = await http.post("/api/v1/executions?wait=true", json=PRINT, headers=headers)
            if answer.status_code != 409:
                return answer
            assert answer.json()["error"]["code"] == "in_progress", answer.text
            await asyncio.sleep(0.1)

    names = ("alice", "alice", "bob", "bob")
    async with runs_seen(keyed.nats_url) as seen:
        answers = await asyncio.gather(*(create(name) for name in names))
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        ids = [a.json()["id"] for a in answers]
        assert ids[0] == ids[1] and ids[2] == ids[3], ids
        assert ids[0] != ids[2], "another key's Idempotency-Key is its own"
        replayed = [a.headers.get("idempotent-replayed") for a in answers]
        assert set(replayed[:2]) == set(replayed[2:]) == {"true", None}
        await seen.assert_once({ids[0], ids[2]})


async def test_a_batch_costs_one_rate_limit_token_per_execution(http: httpx.AsyncClient) -> None:
    """Three batches of 20 spend a key's 60 tokens; a fourth is refused whole. Its entries are
    refused one by one (unknown language), so that no execution runs and no quota is held."""
    erin = bearer("erin")  # this test's own key
    batch = {"executions": [{**PRINT, "language": "cobol"}] * 20}
    answers = [await http.post("/api/v1/executions/batch", json=batch, headers=erin)
               for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429], [a.text for a in answers]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert {i["error"]["code"] for a in answers[:3] for i in a.json()["executions"]} == {
        "unknown_language"}

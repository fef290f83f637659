"""API keys on a platform that has them: refusals, per-key ownership, the rate limit, the quota
of unfinished executions and the admin-only endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import KEYS, PRINT, SPIN, Running, bearer


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
    answers = [(await http.get("/api/v1/executions/none", headers=dave)).status_code
               for _ in range(70)]
    allowed = answers.index(429)
    assert 60 <= allowed <= 63  # the burst, plus what refilled (1 a second) meanwhile
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
        cancelled = await http.delete(f"/api/v1/executions/{accepted['id']}", headers=carol)
        assert cancelled.json()["verdict"] == "cancelled"
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

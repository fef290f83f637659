from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from edge.cross_origin import CrossOriginGuard, cors_options, host_allowed

ALLOWED = ("https://ide.example.org",)


def app(local: bool) -> Starlette:
    async def run(request: Request) -> JSONResponse:
        return JSONResponse({"ran": True}, 202)

    app = Starlette(routes=[Route("/api/v1/executions", run, methods=["GET", "POST", "DELETE"])])
    app.add_middleware(CrossOriginGuard, allowed=ALLOWED, local=local)
    app.add_middleware(CORSMiddleware, **cors_options(ALLOWED))
    return app


def client(local: bool, base_url: str = "http://127.0.0.1:8000") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app(local)), base_url=base_url)


@pytest.fixture
def local() -> httpx.AsyncClient:
    return client(local=True)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:8001"])
@pytest.mark.parametrize("keys", [True, False])
async def test_a_state_changing_request_from_another_site_is_refused(
    origin: str, keys: bool,
) -> None:
    edge = client(local=not keys)
    for method in ("POST", "DELETE"):
        answer = await edge.request(method, "/api/v1/executions", json={},
                                headers={"Origin": origin})
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "origin_not_allowed"


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:8000", "https://ide.example.org"])
async def test_our_own_pages_configured_origins_and_non_browsers_may_post(
    local: httpx.AsyncClient, origin: str | None,
) -> None:
    headers = {"Origin": origin} if origin else {}
    assert (await local.post("/api/v1/executions", json={}, headers=headers)).status_code == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
async def test_a_body_that_is_not_json_is_refused(
    local: httpx.AsyncClient, content_type: str,
) -> None:
    answer = await local.post("/api/v1/executions", content=b"{}",
                              headers={"Content-Type": content_type})
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"


async def test_a_body_without_a_type_is_refused_and_none_is_needed_without_a_body(
    local: httpx.AsyncClient,
) -> None:
    assert (await local.post("/api/v1/executions", content=b"{}")).status_code == 415
    assert (await local.post("/api/v1/executions")).status_code == 202
    assert (await local.delete("/api/v1/executions")).status_code == 202
    charset = {"Content-Type": "application/json; charset=utf-8"}
    json_body = await local.post("/api/v1/executions", content=b"{}", headers=charset)
    assert json_body.status_code == 202


async def test_reads_are_not_refused_but_get_no_cors_headers_for_other_sites(
    local: httpx.AsyncClient,
) -> None:
    answer = await local.get("/api/v1/executions", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 202
    assert "access-control-allow-origin" not in answer.headers


async def test_an_allowed_origin_gets_cors_headers_and_its_preflight_passes(
    local: httpx.AsyncClient,
) -> None:
    preflight = await local.options("/api/v1/executions", headers={
        "Origin": ALLOWED[0], "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED[0]
    answer = await local.post("/api/v1/executions", json={}, headers={"Origin": ALLOWED[0]})
    assert answer.headers["access-control-allow-origin"] == ALLOWED[0]
    refused = await local.options("/api/v1/executions", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers


async def test_without_keys_a_name_pointed_at_the_edge_by_another_site_is_refused() -> None:
    rebound = client(True, "http://attacker.example:8000")
    answer = await rebound.post("/api/v1/executions", json={},
                          headers={"Origin": "http://attacker.example:8000"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "host_not_allowed"
    assert (await rebound.get("/api/v1/executions")).status_code == 403
    keyed = client(False, "http://coderunner.example.org")
    assert (await keyed.post("/api/v1/executions", json={})).status_code == 202


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True), ("[::1]", True),
    ("ide.localhost", True), ("", True), ("ide.example.org", False),
    ("127.0.0.1.nip.io:8000", False), ("evil.example", False),
])
def test_loopback_hosts_are_served_without_keys(host: str, allowed: bool) -> None:
    assert host_allowed(host, local=True, allowed=("https://other.example.org",)) is allowed
    assert host_allowed(host, local=False, allowed=())

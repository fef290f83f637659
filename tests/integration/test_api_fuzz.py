"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis): no
request, however odd, gets a 5xx, and every answer matches the documented schema and status
codes. Then hostile shapes on every route that takes a body: nesting too deep, NUL bytes,
numbers too large, unicode edge cases (lone surrogates, overlong UTF-8, byte order marks,
bidirectional overrides): each a 400 ``invalid_request``."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from edge.openapi import openapi_document
from tests.conftest import PRINT, Running

schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_the_api_never_fails_and_answers_as_documented(
    case: schemathesis.Case, platform: Running,
) -> None:
    # A schema-valid body may still be refused with a 400 the schema cannot express (an
    # unknown language, a mainFile that is not among the files): that check is left out.
    case.call_and_validate(base_url=platform.url, excluded_checks=[positive_data_acceptance])


PROGRAM = b'"language":"python","files":[{"name":"a.py","content":"print(1)"}],"mainFile":"a.py"'
HOSTILE_BODIES = [
    b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"zzz":' + b"[" * 100_000 + b"]" * 100_000 + b"}", b"[]," * 60_000,
    b"{" + PROGRAM + b',"args":["a\\u0000b"]}',
    b'{"language":"python","files":[{"name":"a\\u0000.py","content":""}],"mainFile":"a\\u0000.py"}',
    b"{" + PROGRAM + b',"callbackUrl":"http://example.com/\\u0000x"}',
    b"{" + PROGRAM + b',"limits":{"wallMs":18446744073709551616}}',
    b"{" + PROGRAM + b',"limits":{"wallMs":1e400}}',
    b"{" + PROGRAM + b',"limits":{"cpuMs":1' + b"0" * 5000 + b"}}",
    b"{" + PROGRAM + b',"requestId":"\\ud800"}',
    b'{"language":"python","files":[{"name":"\\u202egnp.py","content":""}],'
    b'"mainFile":"\\u202egnp.py"}',
    b"\xef\xbb\xbf{" + PROGRAM + b"}",  # a byte order mark
    b'{"language":"python","files":[{"name":"a.py","content":"\xc0\xaf"}],"mainFile":"a.py"}',
    b'{"notebookId":"\\u0661","code":"1","cellId":"\\ud800x"}',
]
BODY_ROUTES = ["/api/v1/executions", "/api/v1/executions/batch", "/api/v1/notebooks",
               "/api/v1/notebooks/nb/cells"]


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_hostile_bodies_get_invalid_request_on_every_route(
    platform: Running, route: str,
) -> None:
    async with httpx.AsyncClient(base_url=platform.url, trust_env=False) as http:
        for body in HOSTILE_BODIES:
            answer = await http.post(route, content=body,
                                     headers={"Content-Type": "application/json"})
            assert answer.status_code in (400, 404), (route, body[:80], answer.text)
            assert answer.json()["error"]["code"] in ("invalid_request", "not_found")
        after = await http.post("/api/v1/executions?wait=true", json=PRINT)
        assert after.json()["stdout"] == "hi\n"


@pytest.mark.parametrize("route", ["/judge0/submissions", "/judge0/submissions/batch",
                                   "/api/v2/execute"])
async def test_hostile_bodies_never_fail_the_compatible_apis(platform: Running, route: str
                                                             ) -> None:
    async with httpx.AsyncClient(base_url=platform.url, trust_env=False) as http:
        for body in HOSTILE_BODIES:
            answer = await http.post(route, content=body,
                                     headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (route, body[:80], answer.text)


@pytest.mark.parametrize("path", [
    "/api/v1/executions/%00", "/api/v1/executions/" + "a" * 5000, "/api/v1/executions/%ED%A0%80",
    "/api/v1/executions/%E2%80%AEabc", "/api/v1/notebooks/%00/cells",
    "/api/v1/executions/%2e%2e%2fadmin",
])
async def test_hostile_paths_are_json_404s(platform: Running, path: str) -> None:
    async with httpx.AsyncClient(base_url=platform.url, trust_env=False) as http:
        for method in ("GET", "DELETE", "POST"):
            answer = await http.request(method, path, json={} if method == "POST" else None)
            assert answer.status_code in (404, 405), (method, path, answer.text)
            assert answer.json()["error"]["code"] in ("not_found", "method_not_allowed")

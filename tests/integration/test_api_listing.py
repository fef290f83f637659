"""The HTTP API's list of executions, the limits and warnings in a result, and invalid JSON
located, on the shared platform (no API keys: the local caller, docs/api.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Running

SPIN = "print('go', flush=True)\nwhile True: pass"


def program(code: str, language: str = "python", main: str = "main.py", **extra: Any
            ) -> dict[str, Any]:
    return {"language": language, "mainFile": main,
            "files": [{"name": main, "content": code}], **extra}


@pytest.fixture
async def api(platform: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as client:
        yield client


async def run(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/v1/executions?wait=true", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def until_running(api: httpx.AsyncClient, execution_id: str) -> None:
    deadline = time.monotonic() + 60
    while (await api.get(f"/api/v1/executions/{execution_id}")).json()["status"] != "running":
        assert time.monotonic() < deadline, f"{execution_id} never ran"
        await asyncio.sleep(0.05)


async def listed(api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await api.get("/api/v1/executions", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_the_list_pages_newest_first_and_filters_by_language_and_status(
    api: httpx.AsyncClient,
) -> None:
    first = await run(api, program("print(1)"))
    second = await run(api, program("console.log(2)", "javascript", "main.js"))
    third = await run(api, program("raise SystemExit(3)"))
    page = await listed(api, limit="2")
    assert [e["id"] for e in page["executions"]] == [third["id"], second["id"]]
    assert page["executions"][0]["verdict"] == "runtime_error"
    assert page["executions"][0]["stdout"] is None  # a summary: GET the execution for output
    rest = await listed(api, limit="1", cursor=page["nextCursor"])
    assert [e["id"] for e in rest["executions"]] == [first["id"]]
    script = (await listed(api, language="js", limit="1"))["executions"]
    assert [(e["id"], e["language"]) for e in script] == [(second["id"], "javascript")]

    spinning = (await api.post("/api/v1/executions", json=program(SPIN))).json()["id"]
    try:
        await until_running(api, spinning)
        running = await listed(api, status="running")
        assert spinning in [e["id"] for e in running["executions"]]
        assert {e["status"] for e in running["executions"]} == {"running"}
        done = await listed(api, status="completed", limit="5")
        assert spinning not in [e["id"] for e in done["executions"]]
        assert done["executions"][0]["id"] == third["id"]
    finally:
        await api.delete(f"/api/v1/executions/{spinning}")


async def test_a_result_shows_the_limits_it_ran_with(api: httpx.AsyncClient) -> None:
    result = await run(api, program("print(1)", limits={"wallMs": 2500, "memoryMb": 96}))
    assert result["verdict"] == "ok"
    limits = result["limits"]
    assert (limits["wallMs"], limits["memoryMb"]) == (2500, 96)
    assert limits["cpuMs"] >= 1 and limits["outputKb"] >= 1 and limits["processes"] >= 1
    again = (await api.get(f"/api/v1/executions/{result['id']}")).json()
    assert again["limits"] == limits


async def test_a_main_file_of_another_language_runs_as_asked_with_a_warning(
    api: httpx.AsyncClient,
) -> None:
    warning = ("mainFile 'main.c' has the extension of language 'c' (.c) but runs as "
               "'python', the language asked for")
    accepted = await api.post("/api/v1/executions", json=program("print('as python')",
                                                               main="main.c"))
    assert accepted.status_code == 202
    assert accepted.json()["warnings"] == [warning]
    result = (await api.get(f"/api/v1/executions/{accepted.json()['id']}",
                            params={"wait": "true"})).json()
    assert (result["verdict"], result["stdout"]) == ("ok", "as python\n")
    assert result["warnings"] == [warning]
    assert (await run(api, program("print(1)")))["warnings"] == []
    batch = await api.post("/api/v1/executions/batch", json={"executions": [
        program("print(1)", main="main.c"), program("print(2)")]})
    items = batch.json()["executions"]
    assert items[0]["warnings"] == [warning]
    assert "warnings" not in items[1]


async def test_invalid_json_says_at_which_line_and_column(api: httpx.AsyncClient) -> None:
    body = b'{"language": "python",\n  "mainFile": "main.py",\n  "files": [}'
    response = await api.post("/api/v1/executions", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_request",
        "message": "the body is not valid JSON: invalid character at line 3, column 13"}


async def test_a_list_query_it_does_not_take_is_a_400(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/executions", params={"page": "2"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_request",
        "message": "unknown query parameter 'page'; this list takes limit, cursor, status, "
                   "language"}


async def test_unknown_paths_and_methods_answer_in_the_same_style(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/v1/nothing")
    assert missing.json()["error"] == {"code": "not_found",
                                       "message": "there is nothing at /api/v1/nothing"}
    wrong = await api.put("/api/v1/executions")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == {
        "code": "method_not_allowed",
        "message": "PUT is not allowed here; the Allow header lists what is"}
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}

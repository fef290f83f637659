"""The HTTP API on the shared platform (no API keys: the local caller): run and wait, poll,
cancel, batches, idempotency keys, errors, OpenAPI, stats and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Running, cancel

HELLO = {"language": "python", "mainFile": "main.py",
         "files": [{"name": "main.py", "content": "print(input() * 2)"}], "stdin": "ab\n"}
SPIN = {"language": "python", "mainFile": "main.py",
        "files": [{"name": "main.py", "content": "print('go', flush=True)\nwhile True: pass"}]}


def program(code: str, language: str = "python", main: str = "main.py", **extra: Any
            ) -> dict[str, Any]:
    return {"language": language, "mainFile": main,
            "files": [{"name": main, "content": code}], **extra}


@pytest.fixture
async def api(platform: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as client:
        yield client


async def until_status(api: httpx.AsyncClient, execution_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await api.get(f"/api/v1/executions/{execution_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{execution_id} never became {status}")


async def test_wait_true_answers_with_the_whole_result(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/executions?wait=true", json=HELLO)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["verdict"] == "ok"
    assert body["stdout"] == "abab\n"
    assert body["stderr"] == ""
    assert body["exitCode"] == 0
    assert body["language"] == "python"
    for field in ("wallMs", "cpuMs", "memoryKb", "queuedMs", "truncated", "submittedAt"):
        assert field in body


async def test_an_accepted_execution_is_queued_then_its_result_is_kept(
    api: httpx.AsyncClient,
) -> None:
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"
    response = await api.post("/api/v1/executions", json=program(code, requestId="mine"))
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert response.headers["location"] == f"/api/v1/executions/{accepted['id']}"
    done = await until_status(api, accepted["id"], "completed")
    assert (done["verdict"], done["exitCode"]) == ("runtime_error", 3)
    assert (done["stdout"], done["stderr"]) == ("out\n", "err\n")
    assert done["requestId"] == "mine"
    again = (await api.get(f"/api/v1/executions/{accepted['id']}")).json()
    assert again == done


async def test_a_running_execution_says_so_and_delete_cancels_it(api: httpx.AsyncClient) -> None:
    accepted = (await api.post("/api/v1/executions", json=SPIN)).json()
    running = await until_status(api, accepted["id"], "running")
    assert running["verdict"] is None
    assert (await cancel(api, accepted["id"]))["verdict"] == "cancelled"
    again = await api.delete(f"/api/v1/executions/{accepted['id']}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_completed"


async def test_sql_result_sets_come_back_as_tables(api: httpx.AsyncClient) -> None:
    sql = "CREATE TABLE t (n INT, s TEXT);\nINSERT INTO t VALUES (1, 'a'), (2, 'b');\n" \
          "SELECT n, s FROM t ORDER BY n;"
    body = (await api.post("/api/v1/executions?wait=true",
                           json=program(sql, "sql", "main.sql"))).json()
    assert body["verdict"] == "ok", (body["stderr"], body["message"])
    assert body["tables"] == [{"columns": ["n", "s"], "rows": [[1, "a"], [2, "b"]]}]


async def test_a_batch_accepts_each_entry_alone(api: httpx.AsyncClient) -> None:
    entries = [program(f"print({n})") for n in range(3)] + [program("x", language="cobol")]
    response = await api.post("/api/v1/executions/batch", json={"executions": entries})
    assert response.status_code == 202
    items = response.json()["executions"]
    assert [("id" in item, "error" in item) for item in items] == [(True, False)] * 3 + [
        (False, True)]
    assert items[3]["error"]["code"] == "unknown_language"
    outputs = []
    for item in items[:3]:
        body = (await api.get(f"/api/v1/executions/{item['id']}?wait=true")).json()
        outputs.append(body["stdout"])
    assert outputs == ["0\n", "1\n", "2\n"]
    too_many = await api.post("/api/v1/executions/batch", json={"executions": [HELLO] * 21})
    assert too_many.status_code == 400


async def test_the_same_idempotency_key_and_body_run_once(api: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": f"pay-{time.time_ns()}"}
    code = program("import random\nprint(random.random())")
    first = await api.post("/api/v1/executions?wait=true", json=code, headers=key)
    second = await api.post("/api/v1/executions?wait=true", json=code, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["stdout"] == second.json()["stdout"]
    assert second.headers["idempotent-replayed"] == "true"
    other = await api.post("/api/v1/executions", json=program("print(2)"), headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    fresh = await api.post("/api/v1/executions", json=code, headers={"Idempotency-Key": "x"
                                                                      + key["Idempotency-Key"]})
    assert fresh.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "invalid_request"),
    (b'{"language":"python"}', "invalid_request"),
    (b'{"language":"cobol","mainFile":"a","files":[{"name":"a","content":""}]}',
     "unknown_language"),
    (b'{"language":"python","mainFile":"../a","files":[{"name":"../a","content":""}]}',
     "invalid_request"),
    (b'{"language":"python","mainFile":"b","files":[{"name":"a","content":""}]}',
     "invalid_request"),
    (b'{"language":"python","mainFile":"a","files":[{"name":"a","content":""}],"extra":1}',
     "invalid_request"),
    (b'{"language":"python","mainFile":"a","files":[{"name":"a","content":""}],'
     b'"callbackUrl":"http://169.254.169.254/latest/meta-data"}', "invalid_callback_url"),
    (b'{"language":"python","mainFile":"a","files":[{"name":"a","content":""}],'
     b'"callbackUrl":"file:///etc/passwd"}', "invalid_callback_url"),
])
async def test_bad_requests_get_a_400_with_a_json_error(
    api: httpx.AsyncClient, body: bytes, code: str,
) -> None:
    response = await api.post("/api/v1/executions", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in response.text


async def test_unknown_executions_and_routes_are_json_404s(api: httpx.AsyncClient) -> None:
    for path in ("/api/v1/executions/nope", "/api/v1/nothing"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    wrong_method = await api.put("/api/v1/executions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_the_openapi_document_describes_every_route(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/api/v1/executions", "/api/v1/executions/batch", "/api/v1/executions/{id}",
        "/api/v1/runtimes", "/api/queue-stats", "/api/admin/metrics", "/api/v1/notebooks",
        "/api/v1/notebooks/{id}", "/api/v1/notebooks/{id}/cells",
        "/api/v1/notebooks/{id}/interrupt", "/api/v1/notebooks/{id}/restart",
    }
    request = document["components"]["schemas"]["ExecutionRequest"]
    assert {"language", "files", "mainFile"} <= set(request["required"])
    assert "callbackUrl" in request["properties"]


async def test_queue_stats_count_what_completed(api: httpx.AsyncClient) -> None:
    before = (await api.get("/api/queue-stats")).json()
    await api.post("/api/v1/executions?wait=true", json=program("raise SystemExit(1)"))
    await api.post("/api/v1/executions?wait=true", json=program("print(1)"))
    after = (await api.get("/api/queue-stats")).json()
    assert after["failed"] == before["failed"] + 1
    assert after["completed"] == before["completed"] + 1
    assert set(after["queue"]["waiting"]) == {"0", "1", "2"}
    assert after["queue"]["maxConcurrent"] == 50
    assert after["recentTaskTimes"]["count"] >= 2
    assert after["dispatchers"] == 1


async def test_admin_metrics_and_prometheus_describe_the_platform(
    api: httpx.AsyncClient, platform: Running,
) -> None:
    await api.post("/api/v1/executions?wait=true", json=program("print(1)"))
    await api.post("/api/v1/executions?wait=true", json=program("print(2)"))
    deadline = time.monotonic() + 30
    while (admin := (await api.get("/api/admin/metrics")).json())["jobs"] < 2:
        assert time.monotonic() < deadline, admin  # a heartbeat every few seconds brings it
        await asyncio.sleep(0.5)
    assert [r["runnerId"] for r in admin["runners"]] == [platform.runner_id]
    assert admin["pools"]["python"]["target"] == 1
    assert admin["pools"]["python"]["created"] >= 1
    assert admin["jobs"] >= 2
    assert 0 < admin["reuseRate"] <= 1
    text = (await api.get("/metrics")).text
    assert 'coderunner_executions_total{language="python",verdict="ok"}' in text
    assert "coderunner_execution_wall_seconds_bucket" in text
    assert 'coderunner_http_request_seconds_count{method="POST",route="/api/v1/executions"' \
        in text
    assert "coderunner_runners 1.0" in text

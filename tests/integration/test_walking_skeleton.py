"""The whole path, thin but real: browser socket → edge → JetStream → dispatcher → runner →
Docker sandbox → events back, and the completion on exec.completed.<id>."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import websockets

from contracts.messages import CompletionEvent
from tests.conftest import Running
from tests.integration.wsclient import Client, stored_completion


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    c = await Client.connect(platform.ws_url)
    yield c
    await c.close()


async def test_hello_world_runs_end_to_end_through_the_socket(client: Client) -> None:
    result = await client.run({"main.py": "print('hello')"}, request_id="r1")
    kinds = [(e["type"], e.get("status")) for e in result.events]
    assert kinds == [("status", "queued"), ("status", "running"), ("output", None),
                     ("completion", None)]
    assert all(e["executionId"] == result.execution_id for e in result.events)
    assert result.events[0]["requestId"] == "r1"
    assert result.stdout == "hello\n"
    completion = result.completion
    assert (completion["verdict"], completion["exitCode"]) == ("ok", 0)
    assert completion["wallMs"] > 0


async def test_failing_program_gets_runtime_error_and_its_exit_code(client: Client) -> None:
    program = "import sys\nprint('bad news', file=sys.stderr)\nsys.exit(3)\n"
    result = await client.run({"main.py": program})
    assert result.verdict == "runtime_error"
    assert result.completion["exitCode"] == 3
    assert result.stderr == "bad news\n"


async def test_malformed_frames_get_errors_and_the_connection_stays_usable(
    client: Client,
) -> None:
    await client.send("this is not json")
    await client.send({"type": "execute_code", "requestId": "r2", "language": "python",
                       "mainFile": "main.py"})  # neither files nor a workspace
    await client.send({"type": "execute_code", "requestId": "r3", "language": "python",
                       "files": [{"name": "../evil.py", "content": ""}], "mainFile": "../evil.py"})
    errors = [await client.receive() for _ in range(3)]
    assert [e["type"] for e in errors] == ["error"] * 3
    assert [e["code"] for e in errors] == ["invalid_request"] * 3
    assert [e.get("requestId") for e in errors] == [None, "r2", "r3"]
    assert "files must hold at least one file" in errors[1]["message"]
    assert "'..'" in errors[2]["message"]
    result = await client.run({"main.py": "print(6 * 7)"})
    assert result.stdout == "42\n"


async def test_an_unknown_language_is_refused_by_name(client: Client) -> None:
    error = await client.submit({"main.cob": ""}, language="cobol", request_id="r4")
    assert (error["type"], error["code"], error["requestId"]) == ("error", "unknown_language", "r4")
    assert "python" in error["message"]


async def test_the_completion_is_kept_on_jetstream_for_subscribers(
    client: Client, platform: Running
) -> None:
    result = await client.run({"main.py": "print('kept')"})
    stored = await stored_completion(platform.nats_url, result.execution_id)
    completion = msgspec.json.decode(stored, type=CompletionEvent)
    assert completion.execution_id == result.execution_id
    assert completion.verdict == "ok"
    assert msgspec.json.decode(stored) == result.completion


def test_coderunner_run_prints_output_and_exits_with_the_program_code(
    platform: Running, tmp_path: Path
) -> None:
    program = tmp_path / "main.py"
    program.write_text("import sys\nprint('from the cli')\nsys.exit(5)\n")
    done = subprocess.run(
        [sys.executable, "-m", "coderunner", "run", str(program), "--url", platform.url],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.stdout == "from the cli\n"
    assert done.returncode == 5


async def test_a_page_from_another_origin_cannot_open_the_socket(platform: Running) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(platform.ws_url, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    own = await Client.connect(platform.ws_url)
    await own.close()

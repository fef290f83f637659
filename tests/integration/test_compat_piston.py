"""The Piston v2 API (docs/compat.md) on the shared platform, driven by a Piston client from
PyPI (``ultra-piston``, unchanged), by plain HTTP and by a WebSocket for ``/api/v2/connect``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
import pytest
import websockets
from ultra_piston import File, PistonClient
from ultra_piston.errors import BadRequestError

from tests.conftest import Running


@pytest.fixture
def client(platform: Running, monkeypatch: pytest.MonkeyPatch) -> PistonClient:
    """The client (whose requests time out after httpx's 5 s) once runners serve Python and C
    and have run each once (the first run of a language may take longer)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # loopback only
    with httpx.Client(base_url=f"{platform.url}/api/v2", trust_env=False, timeout=120) as http:
        for _ in range(600):
            if {"python", "c"} <= {r["language"] for r in http.get("/runtimes").json()}:
                break
            time.sleep(0.1)
        for language in ("python", "c"):
            http.post("/execute", json={"language": language, "version": "*",
                                        "files": [{"content": ""}]})
    return PistonClient(base_url=f"{platform.url}/api/v2/", rate_limit=0)


def test_the_client_lists_runtimes_and_runs_python(client: PistonClient) -> None:
    runtimes = {runtime.language: runtime for runtime in client.get_runtimes()}
    assert {"python", "java", "c", "cpp"} <= set(runtimes)
    assert "py3" in runtimes["python"].aliases
    version = runtimes["python"].version
    result = client.post_execute("py3", "3.x", File(content="print(input() * 2)"), stdin="ab")
    assert (result.language, result.version) == ("python", version)
    assert (result.run.stdout, result.run.stderr, result.run.code) == ("abab\n", "", 0)
    assert result.run.output == "abab\n" and result.compile is None


def test_the_client_compiles_c_and_sees_a_failed_compile_in_run(client: PistonClient) -> None:
    ran = client.post_execute("c", "*", File(content='int puts(const char *);\n'
                                                     'int main(void) { puts("c"); return 0; }'))
    assert ran.compile is not None and ran.compile.code == 0
    assert (ran.run.stdout, ran.run.code) == ("c\n", 0)
    failed = client.post_execute("gcc", "*", File(content="int main(void) { return x; }"))
    assert failed.compile is not None and failed.compile.code == 1
    assert failed.run.model_dump() == failed.compile.model_dump()  # Piston copies it
    assert "error" in failed.run.output
    with pytest.raises(BadRequestError):
        client.post_execute("python", "2.x", File(content="print 1"))


def test_execute_answers_every_stage_field_and_pistons_errors(platform: Running) -> None:
    with httpx.Client(base_url=f"{platform.url}/api/v2", trust_env=False, timeout=60) as http:
        body = {"language": "python", "version": "*", "files": [
            {"name": "main.py", "content": "import sys\nprint('o')\nprint('e', file=sys.stderr)"
             "\nsys.exit(3)"}], "run_timeout": 3000}
        answer = http.post("/execute", json=body).json()
        assert set(answer["run"]) == {"stdout", "stderr", "output", "code", "signal", "message",
                                      "status", "cpu_time", "wall_time", "memory"}
        assert (answer["run"]["status"], answer["run"]["code"]) == ("RE", 3)
        assert answer["run"]["message"] == "Exited with error status 3"
        slow = http.post("/execute", json={**body, "run_timeout": 1000, "files": [
            {"content": "while True: pass"}]}).json()
        assert (slow["run"]["status"], slow["run"]["signal"]) == ("TO", "SIGKILL")
        refused = http.post("/execute", json={**body, "language": "intercal"})
        assert (refused.status_code, refused.json()) == (
            400, {"message": "intercal-* runtime is unknown"})
        too_long = http.post("/execute", json={**body, "run_timeout": 10**6})
        assert too_long.status_code == 400 and "configured limit" in too_long.json()["message"]
        text = http.post("/execute", content=b"language=python",
                         headers={"Content-Type": "text/plain"})
        assert (text.status_code, text.json()) == (
            415, {"message": "the body must be application/json"})


async def frames(ws: Any) -> list[dict[str, Any]]:
    """Every frame until the server closes (Piston's codes are errors to ``websockets``)."""
    got = []
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            got.append(json.loads(await ws.recv()))
    return got


async def test_the_socket_runs_with_live_stdin_and_closes_4999(platform: Running) -> None:
    url = platform.ws_url.replace("/ws", "/api/v2/connect")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "language": "python", "version": "*",
                                  "files": [{"content": "print(input()[::-1])"}]}))
        runtime = json.loads(await ws.recv())
        assert runtime["type"] == "runtime" and runtime["language"] == "python"
        await ws.send(json.dumps({"type": "data", "stream": "stdin", "data": "abc\n"}))
        rest = await asyncio.wait_for(frames(ws), 60)
        assert ws.close_code == 4999 and ws.close_reason == "Job Completed"
    kinds = [frame["type"] for frame in rest]
    assert kinds[0] == "stage" and kinds[-1] == "exit"
    assert "".join(f["data"] for f in rest if f["type"] == "data") == "cba\n"
    assert rest[-1] == {"type": "exit", "stage": "run", "code": 0, "signal": None}


@pytest.mark.parametrize(("sent", "code", "reason"), [
    ([], 4001, "Initialization Timeout"),
    ([{"type": "data", "stream": "stdin", "data": "x"}], 4003, "Not yet initialized"),
    ([b"\x00binary"], 4002, "Notified Error"),
    ([{"type": "init", "language": "intercal", "version": "*", "files": []}], 4002,
     "Notified Error"),
    ([{"type": "init", "language": "python", "version": "*",
       "files": [{"content": "import time\ntime.sleep(30)"}]},
      {"type": "init"}], 4000, "Already Initialized"),
    ([{"type": "init", "language": "python", "version": "*",
       "files": [{"content": "import time\ntime.sleep(30)"}]},
      {"type": "data", "stream": "stdout", "data": "x"}], 4004, "Can only write to stdin"),
    ([{"type": "init", "language": "python", "version": "*",
       "files": [{"content": "import time\ntime.sleep(30)"}]},
      {"type": "signal", "signal": "SIGNOPE"}], 4005, "Invalid signal"),
])
async def test_the_socket_closes_with_pistons_codes(platform: Running, sent: list[Any],
                                                    code: int, reason: str) -> None:
    url = platform.ws_url.replace("/ws", "/api/v2/connect")
    async with websockets.connect(url) as ws:
        for frame in sent:
            await ws.send(frame if isinstance(frame, bytes) else json.dumps(frame))
        received = await asyncio.wait_for(frames(ws), 30)
        assert (ws.close_code, ws.close_reason) == (code, reason)
    if code == 4002:  # an error frame says why first
        assert received[-1] in ({"type": "error", "message": "intercal-* runtime is unknown"},
                                {"type": "error", "message": "frames must be JSON text"})


async def test_a_signal_stops_the_run(platform: Running) -> None:
    url = platform.ws_url.replace("/ws", "/api/v2/connect")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "language": "python", "version": "*",
                                  "files": [{"content": "print('up', flush=True)\ninput()"}]}))
        assert json.loads(await ws.recv())["type"] == "runtime"
        while json.loads(await ws.recv())["type"] != "data":
            pass
        await ws.send(json.dumps({"type": "signal", "signal": "SIGKILL"}))
        rest = await asyncio.wait_for(frames(ws), 30)
        assert ws.close_code == 4999
    assert rest[-1]["type"] == "exit"


C_ECHO = ('#include <stdio.h>\nint main(void) {\n  char word[16];\n  scanf("%15s", word);\n'
          '  printf("<%s>\\n", word);\n  return 0;\n}\n')


async def test_the_socket_has_a_compile_stage_then_the_run_stage(platform: Running) -> None:
    """Piston's stages: ``stage compile``, the compile's own ``exit``, then ``stage run``;
    stdin sent during the compile reaches the run."""
    url = platform.ws_url.replace("/ws", "/api/v2/connect")
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "language": "c", "version": "*",
                                  "files": [{"content": C_ECHO}]}))
        assert json.loads(await ws.recv())["type"] == "runtime"
        await ws.send(json.dumps({"type": "data", "stream": "stdin", "data": "hi\n"}))
        rest = await asyncio.wait_for(frames(ws), 120)
        assert ws.close_code == 4999
    assert rest == [{"type": "stage", "stage": "compile"},
                    {"type": "exit", "stage": "compile", "code": 0, "signal": None},
                    {"type": "stage", "stage": "run"},
                    {"type": "data", "stream": "stdout", "data": "<hi>\n"},
                    {"type": "exit", "stage": "run", "code": 0, "signal": None}]
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "language": "c", "version": "*",
                                  "files": [{"content": "int main(void) { return nope; }"}]}))
        assert json.loads(await ws.recv())["type"] == "runtime"
        failed = await asyncio.wait_for(frames(ws), 120)
        assert ws.close_code == 4999
    assert failed[0] == {"type": "stage", "stage": "compile"}
    assert failed[-1] == {"type": "exit", "stage": "compile", "code": 1, "signal": None}
    assert "nope" in "".join(f["data"] for f in failed if f["type"] == "data")
    assert {"type": "stage", "stage": "run"} not in failed


def test_compile_memory_limit_is_the_compilers_address_space(platform: Running) -> None:
    """As Piston's ``prlimit --as``: 8 MB of address space is too little for gcc's cc1."""
    with httpx.Client(base_url=f"{platform.url}/api/v2", trust_env=False, timeout=120) as http:
        body = {"language": "c", "version": "*", "files": [{"content": C_ECHO}], "stdin": "x"}
        roomy = http.post("/execute", json=body).json()
        assert roomy["compile"]["code"] == 0 and roomy["run"]["stdout"] == "<x>\n"
        starved = http.post("/execute", json={**body, "compile_memory_limit": 8_000_000}).json()
        assert starved["compile"]["status"] == "RE" and starved["compile"]["code"] != 0
        assert starved["run"] == starved["compile"]  # Piston copies a failed compile


def test_execute_gives_the_compile_stage_its_own_output_and_limits(platform: Running) -> None:
    with httpx.Client(base_url=f"{platform.url}/api/v2", trust_env=False, timeout=120) as http:
        body = {"language": "c", "version": "*", "stdin": "x",
                "files": [{"content": '#warning "careful"\n' + C_ECHO}]}
        warned = http.post("/execute", json=body).json()
        assert "careful" in warned["compile"]["stderr"] and warned["compile"]["code"] == 0
        assert (warned["run"]["stdout"], warned["run"]["stderr"]) == ("<x>\n", "")
        slow = http.post("/execute", json={**body, "compile_timeout": 1}).json()
        assert (slow["compile"]["status"], slow["compile"]["signal"]) == ("TO", "SIGKILL")
        assert slow["run"] == slow["compile"]  # the run never started

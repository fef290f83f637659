"""The Judge0 CE 1.13.1 API (docs/compat.md) on the shared platform, driven by Judge0's own
Python SDK (``judge0`` on PyPI, unchanged) and by plain HTTP for the exact wire shapes."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import judge0
import msgspec
import nats
import pytest
from judge0.base_types import Status
from nats.aio.msg import Msg

from contracts import subjects
from contracts.judge0 import FIELDS, STATUSES
from contracts.judging import MAX_EXPECTED_BYTES, JudgementResult, TestResultEvent
from contracts.messages import event_decoder
from edge.judge0_rules import NOT_JUDGED
from tests.conftest import KEYS, Running

C_HELLO = ('#include <stdio.h>\nint main(void) {\n  char name[10];\n  scanf("%s", name);\n'
           '  printf("hello, %s\\n", name);\n  return 0;\n}\n')


@pytest.fixture
def sdk(platform: Running, monkeypatch: pytest.MonkeyPatch) -> judge0.Client:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)  # loopback only
    return judge0.Client(f"{platform.url}/judge0")


@pytest.fixture
def http(platform: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{platform.url}/judge0", timeout=60, trust_env=False) as client:
        yield client


def test_the_official_client_runs_python_with_the_ce_language_ids(sdk: judge0.Client) -> None:
    assert sdk.version == "1.13.1"
    result = judge0.run(client=sdk, source_code="print('hi')", language=judge0.PYTHON)
    assert result.status == Status.ACCEPTED
    assert result.stdout == "hi\n"
    assert sdk.get_language_id(judge0.PYTHON) == 71
    assert result.exit_code == 0
    assert result.time is not None and result.memory is not None


def test_the_official_client_runs_c_with_stdin_and_expected_output(sdk: judge0.Client) -> None:
    result = judge0.run(client=sdk, source_code=C_HELLO, language=judge0.C, stdin="world",
                        expected_output="hello, world")
    assert result.status == Status.ACCEPTED
    assert result.stdout == "hello, world\n"


def test_a_different_output_is_a_wrong_answer(sdk: judge0.Client) -> None:
    result = judge0.run(client=sdk, source_code="print('hello,  world')",
                        language=judge0.PYTHON, expected_output="hello, world")
    assert result.status == Status.WRONG_ANSWER


def test_the_official_client_runs_a_batch(sdk: judge0.Client) -> None:
    submissions = [
        judge0.Submission(source_code="print(input()[::-1])", language=judge0.PYTHON,
                          stdin="abc", expected_output="cba"),
        judge0.Submission(source_code="import sys\nsys.exit(3)", language=judge0.PYTHON),
        judge0.Submission(source_code="int main(void) { return 0 }", language=judge0.C),
    ]
    done = judge0.run(client=sdk, submissions=submissions)
    assert [s.status for s in done] == [Status.ACCEPTED, Status.RUNTIME_ERROR_NZEC,
                                        Status.COMPILATION_ERROR]
    assert done[1].exit_code == 3
    assert done[2].compile_output and "error" in done[2].compile_output
    assert len({str(s.token) for s in done}) == 3


def run(http: httpx.Client, body: dict[str, Any], **params: str) -> dict[str, Any]:
    response = http.post("/submissions", params={"wait": "true", **params}, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_base64_fields_go_both_ways_and_fields_filter_the_answer(http: httpx.Client) -> None:
    code = "import sys\nprint(input())\nprint('é', file=sys.stderr)"
    answer = run(http, {"source_code": b64(code), "language_id": 71, "stdin": b64("ab")},
                 base64_encoded="true", fields="stdout,stderr,status,time,wall_time,memory")
    assert set(answer) == {"stdout", "stderr", "status", "time", "wall_time", "memory"}
    assert answer["stdout"] == "YWIK\n"  # Ruby's encode64: lines of 60 and a line break
    assert base64.b64decode(answer["stderr"]).decode() == "é\n"
    assert answer["status"] == {"id": 3, "description": "Accepted"}
    assert isinstance(answer["time"], str) and float(answer["time"]) >= 0
    assert isinstance(answer["memory"], int)
    token = http.post("/submissions", json={"source_code": "print(1)", "language_id": 71})
    assert token.status_code == 201 and set(token.json()) == {"token"}
    every = http.get(f"/submissions/{token.json()['token']}", params={"fields": "*"}).json()
    assert tuple(every) == FIELDS
    default = http.get(f"/submissions/{token.json()['token']}").json()
    assert set(default) == {"token", "time", "memory", "stdout", "stderr", "compile_output",
                            "message", "status"}
    bad = http.get(f"/submissions/{token.json()['token']}", params={"fields": "stdout,nope"})
    assert bad.status_code == 400 and bad.json() == {"error": "invalid fields: [nope]"}
    form = http.post("/submissions", content=b"language_id=71",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (form.status_code, form.json()) == (415, {"error": "the body must be application/json"})


@pytest.mark.parametrize(("code", "status", "signal"), [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", 7, 11),
    ("import os, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
     "os.kill(os.getpid(), signal.SIGXFSZ)", 8, 25),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGFPE)", 9, 8),
    ("import os\nos.abort()", 10, 6),
    ("import sys\nsys.exit(4)", 11, None),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGUSR1)", 12, 10),
])
def test_runtime_errors_get_judge0s_status_by_signal(
    http: httpx.Client, code: str, status: int, signal: int | None,
) -> None:
    answer = run(http, {"source_code": code, "language_id": 71},
                 fields="status,exit_signal,exit_code,message")
    assert answer["status"] == {"id": status, "description": STATUSES[status]}
    assert answer["exit_signal"] == signal
    if signal is None:
        assert answer["exit_code"] == 4
        assert answer["message"] == "Exited with error status 4"


def test_limits_map_to_time_limit_and_memory(http: httpx.Client) -> None:
    slow = run(http, {"source_code": "while True: pass", "language_id": 71,
                      "cpu_time_limit": 1, "wall_time_limit": 3}, fields="status,message")
    assert slow["status"]["id"] == 5
    assert slow["message"] == "Time limit exceeded"
    big = run(http, {"source_code": "x = bytearray(200 * 1024 * 1024)\nprint(len(x))",
                     "language_id": 71, "memory_limit": 65536}, fields="status,exit_signal")
    assert big["status"]["id"] in (11, 12)  # MemoryError (NZEC) or the cgroup's kill (Other)


def test_compile_errors_have_compile_output_only(http: httpx.Client) -> None:
    answer = run(http, {"source_code": "int main(void) { return x; }", "language_id": 50},
                 fields="*")
    assert answer["status"]["id"] == 6
    assert "x" in answer["compile_output"]
    assert answer["stdout"] is None and answer["time"] is None and answer["exit_code"] is None
    assert answer["language"]["id"] == 50 and answer["language"]["name"].startswith("C (GCC")


def test_invalid_fields_answer_422_in_judge0s_shape(http: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        ({"source_code": "x"}, {"language_id": ["can't be blank"]}),
        ({"source_code": "x", "language_id": 150000},
         {"language_id": ["language with id 150000 doesn't exist"]}),
        ({"source_code": "x", "language_id": 70},  # Python 2: not run here
         {"language_id": ["language with id 70 doesn't exist here: Python 2: no longer in "
                          "Debian, which every image is built on"]}),
        ({"language_id": 71}, {"source_code": ["can't be blank"]}),
        ({"source_code": "x", "language_id": 71, "wall_time_limit": 150,
          "cpu_time_limit": -1, "memory_limit": 1000},
         {"wall_time_limit": ["must be less than or equal to 20.0"],
          "cpu_time_limit": ["must be greater than or equal to 0"],
          "memory_limit": ["must be greater than or equal to 2048"]}),
        ({"source_code": "x", "language_id": 71, "max_processes_and_or_threads": 0,
          "stack_limit": 200000, "max_file_size": "abc"},
         {"max_processes_and_or_threads": ["must be greater than 0"],
          "stack_limit": ["must be less than or equal to 128000"],
          "max_file_size": ["is not a number"]}),
        ({"source_code": "x", "language_id": 71, "number_of_runs": 21},
         {"number_of_runs": ["must be less than or equal to 20"]}),
        ({"source_code": "x", "language_id": 71, "enable_network": True},
         {"enable_network": ["enabling network is not allowed"]}),
        ({"source_code": "x", "language_id": 71, "compiler_options": "-O2"},
         {"compiler_options": ["setting compiler options is only allowed for compiled "
                               "languages"]}),
        ({"source_code": "x", "language_id": 50, "compiler_options": "-O2; rm -rf /"},
         {"compiler_options": ["option '-O2;' is not allowed for this language (allowed: "
                               "-DEVAL -DONLINE_JUDGE -O0 -O1 -O2 -O3 -Os -Wall -Werror "
                               "-Wextra -g -lm -pedantic -std=c11 -std=c17 -std=c89 "
                               "-std=c99 -std=gnu11 -std=gnu17 -std=gnu89 -std=gnu99 -w)"]}),
        ({"source_code": "x", "language_id": 71, "command_line_arguments": "a" * 513},
         {"command_line_arguments": ["is too long (maximum is 512 characters)"]}),
    ]
    for body, errors in cases:
        response = http.post("/submissions", json=body)
        assert (response.status_code, response.json()) == (422, errors), body


def test_a_batch_takes_at_most_20_and_reads_back_by_tokens(http: httpx.Client) -> None:
    too_many = http.post("/submissions/batch", json={"submissions": [
        {"source_code": "print(1)", "language_id": 71}] * 21})
    assert too_many.status_code == 400
    made = http.post("/submissions/batch", json={"submissions": [
        {"source_code": "print(1)", "language_id": 71}, {"language_id": 71}]})
    assert made.status_code == 201
    first, second = made.json()
    assert second == {"source_code": ["can't be blank"]}
    unknown = "00000000-0000-4000-8000-000000000000"
    for _ in range(600):
        shown = http.get("/submissions/batch", params={
            "tokens": f"{first['token']},{unknown}", "fields": "token,status"}).json()
        if shown["submissions"][0]["status"]["id"] > 2:
            break
        time.sleep(0.05)
    assert shown["submissions"] == [{"token": first["token"],
                                     "status": {"id": 3, "description": "Accepted"}}, None]


def test_catalog_endpoints(http: httpx.Client) -> None:
    languages = http.get("/languages").json()
    ids = {language["id"] for language in languages}
    assert {46, 50, 54, 60, 62, 63, 71, 73, 74, 82} <= ids and 70 not in ids
    assert http.get("/languages/62").json()["source_file"] == "Main.java"
    assert http.get("/languages/70").status_code == 404
    assert http.get("/statuses").json() == [
        {"id": k, "description": v} for k, v in STATUSES.items()]
    assert http.get("/about").json()["version"] == "1.13.1"
    config = http.get("/config_info").json()
    assert config["max_submission_batch_size"] == 20 and config["allow_enable_network"] is False
    workers = http.get("/workers").json()
    assert workers[0]["queue"] == "1.13.1" and workers[0]["available"] >= 1


def test_a_finished_submission_can_be_deleted(http: httpx.Client, platform: Running) -> None:
    token = run(http, {"source_code": "print(5)", "language_id": 71}, fields="token")["token"]
    execution_id = token.replace("-", "")  # a Judge0 token is our id in UUID form
    listed = http.get(f"{platform.url}/api/v1/executions", params={"limit": 100}).json()
    assert execution_id in [e["id"] for e in listed["executions"]]
    gone = http.delete(f"/submissions/{token}", params={"fields": "stdout"})
    assert (gone.status_code, gone.json()) == (200, {"stdout": "NQo=\n"})
    assert http.get(f"/submissions/{token}").status_code == 404
    listed = http.get(f"{platform.url}/api/v1/executions", params={"limit": 100}).json()
    assert execution_id not in [e["id"] for e in listed["executions"]], "and from the list"


@dataclass
class Puts:
    url: str
    bodies: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def puts() -> Iterator[Puts]:
    """An HTTP server on loopback that records every PUT."""
    holder: list[Puts] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            holder[0].bodies.append((dict(self.headers.items()), body))
            holder[0].arrived.set()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Puts(f"http://127.0.0.1:{server.server_address[1]}/judge0-callback"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()


def test_the_callback_is_a_signed_put_of_the_base64_submission(http: httpx.Client,
                                                               puts: Puts) -> None:
    token = http.post("/submissions", json={"source_code": "print('cb')", "language_id": 71,
                                            "callback_url": puts.url}).json()["token"]
    assert puts.arrived.wait(60)
    headers, body = puts.bodies[0]
    sent = httpx.Response(200, content=body).json()
    assert sent["token"] == token
    assert sent["stdout"] == "Y2IK\n" and sent["status"]["id"] == 3
    assert set(sent) == {"token", "time", "memory", "stdout", "stderr", "compile_output",
                         "message", "status"}
    assert headers["X-CodeRunner-Signature"].startswith("t=")


def test_a_judged_submissions_callback_shows_its_decisive_run(http: httpx.Client,
                                                               puts: Puts) -> None:
    token = http.post("/submissions", json={
        "source_code": "print('cb')", "language_id": 71, "expected_output": "cb",
        "number_of_runs": 2, "callback_url": puts.url}).json()["token"]
    assert puts.arrived.wait(60)
    sent = httpx.Response(200, content=puts.bodies[0][1]).json()
    assert (sent["token"], sent["stdout"], sent["status"]) == (
        token, "Y2IK\n", {"id": 3, "description": "Accepted"})


def test_x_auth_token_is_an_api_key_and_submissions_are_the_keys_own(keyed: Running) -> None:
    base = f"{keyed.url}/judge0"
    alice = httpx.Client(base_url=base, headers={"X-Auth-Token": KEYS["alice"]},
                         trust_env=False, timeout=60)
    bob = httpx.Client(base_url=base, headers={"X-Auth-Token": KEYS["bob"]},
                       trust_env=False, timeout=60)
    with alice, bob:
        assert httpx.get(f"{base}/languages", trust_env=False).status_code == 401
        token = alice.post("/submissions", params={"wait": "true"},
                           json={"source_code": "print(2)", "language_id": 71}).json()["token"]
        assert alice.get(f"/submissions/{token}").json()["stdout"] == "2\n"
        assert bob.get(f"/submissions/{token}").status_code == 404
        listed = alice.get("/submissions", params={"per_page": 1, "fields": "token"}).json()
        assert listed["submissions"] == [{"token": token}]
        assert listed["meta"]["current_page"] == 1
        assert bob.get("/submissions").json()["submissions"] == []


def test_allowed_compiler_options_reach_the_compiler(http: httpx.Client) -> None:
    code = ('#include <stdio.h>\nint main(void) {\n#ifdef ONLINE_JUDGE\n  puts("judge");\n'
            '#else\n  puts("local");\n#endif\n  return 0;\n}\n')
    judged = run(http, {"source_code": code, "language_id": 50,
                        "compiler_options": "-DONLINE_JUDGE -O0"}, fields="stdout,status")
    assert judged == {"stdout": "judge\n", "status": {"id": 3, "description": "Accepted"}}
    strict = run(http, {"source_code": "int main(void) { int unused; return 0; }",
                        "language_id": 50, "compiler_options": "-Wall -Werror"},
                 fields="status,compile_output")
    assert strict["status"]["id"] == 6 and "unused" in strict["compile_output"]


def test_additional_files_sit_beside_the_program(http: httpx.Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("helper.py", "GREETING = 'from the zip'\n")
        archive.writestr("data/input.txt", "42\n")
    code = "import helper\nprint(helper.GREETING, open('data/input.txt').read().strip())"
    answer = run(http, {"source_code": code, "language_id": 71,
                        "additional_files": base64.b64encode(buffer.getvalue()).decode()},
                 fields="stdout,status")
    assert answer == {"stdout": "from the zip 42\n",
                      "status": {"id": 3, "description": "Accepted"}}
    escape = io.BytesIO()
    with zipfile.ZipFile(escape, "w") as archive:
        archive.writestr("../../etc/cron.d/x", "* * * * * root reboot\n")
    refused = http.post("/submissions", json={
        "source_code": "print(1)", "language_id": 71,
        "additional_files": base64.b64encode(escape.getvalue()).decode()})
    assert refused.status_code == 422 and "additional_files" in refused.json()


C_WRITE_FILE = ('#include <stdio.h>\nint main(void) {\n  static char block[4096];\n'
                '  FILE *f = fopen("big.bin", "w");\n'
                '  for (int i = 0; i < 1024; i++) fwrite(block, 1, sizeof block, f);\n'
                '  fclose(f);\n  puts("wrote 4 MiB");\n  return 0;\n}\n')
C_DEEP_STACK = ('#include <stdio.h>\n'  # 24 Ki frames of 1 KiB and more: 24 MiB of stack
                'static int depth(int n) {\n  volatile char pad[1024];\n  pad[0] = (char)n;\n'
                '  return n == 0 ? 0 : depth(n - 1) + (pad[0] & 1);\n}\n'
                'int main(void) {\n  printf("%d\\n", depth(24 * 1024));\n  return 0;\n}\n')
C_MALLOC = ('#include <stdio.h>\n#include <stdlib.h>\n'
            'int main(void) {\n  char *p = malloc(100 << 20);\n'
            '  if (!p) { puts("no memory"); return 3; }\n'
            '  for (size_t i = 0; i < (100u << 20); i += 4096) ((volatile char *)p)[i] = 1;\n'
            '  puts("got it");\n  return 0;\n}\n')


def test_max_file_size_is_the_kernels_file_size_limit_sigxfsz(http: httpx.Client) -> None:
    """isolate's ``-f``: a write past ``max_file_size`` KB kills the program with SIGXFSZ."""
    cut = run(http, {"source_code": C_WRITE_FILE, "language_id": 50, "max_file_size": 1024},
              fields="status,exit_signal,stdout")
    assert cut == {"status": {"id": 8, "description": "Runtime Error (SIGXFSZ)"},
                   "exit_signal": 25, "stdout": None}
    roomy = run(http, {"source_code": C_WRITE_FILE, "language_id": 50, "max_file_size": 4096},
                fields="status,stdout")
    assert roomy == {"status": {"id": 3, "description": "Accepted"}, "stdout": "wrote 4 MiB\n"}


def test_stack_limit_is_the_programs_stack_both_ways(http: httpx.Client) -> None:
    """isolate's ``-k``: Judge0's default 64000 KB holds 24 MiB of stack (the sandbox's own
    soft limit is 8 MiB); 16000 KB does not (SIGSEGV)."""
    roomy = run(http, {"source_code": C_DEEP_STACK, "language_id": 50}, fields="status,stdout")
    assert roomy == {"status": {"id": 3, "description": "Accepted"}, "stdout": "12288\n"}
    small = run(http, {"source_code": C_DEEP_STACK, "language_id": 50, "stack_limit": 16000},
                fields="status,exit_signal")
    assert small == {"status": {"id": 7, "description": "Runtime Error (SIGSEGV)"},
                     "exit_signal": 11}


def test_per_process_memory_is_the_address_space_of_each_process(http: httpx.Client) -> None:
    """With the flag, ``memory_limit`` is isolate's ``-m`` (RLIMIT_AS): malloc fails and the
    program sees it; without it, the sandbox's memory limit kills it (status 12)."""
    limited = run(http, {"source_code": C_MALLOC, "language_id": 50, "memory_limit": 65536,
                         "enable_per_process_and_thread_memory_limit": True},
                  fields="status,stdout,exit_code")
    assert limited == {"status": {"id": 11, "description": "Runtime Error (NZEC)"},
                       "stdout": "no memory\n", "exit_code": 3}
    whole = run(http, {"source_code": C_MALLOC, "language_id": 50, "memory_limit": 65536},
                fields="status,exit_signal,message")
    assert whole == {"status": {"id": 12, "description": "Runtime Error (Other)"},
                     "exit_signal": 9, "message": "Memory limit exceeded"}


def test_max_processes_and_or_threads_caps_the_threads_of_a_run(http: httpx.Client) -> None:
    code = ("import threading\nstop = threading.Event()\n"
            "threads = [threading.Thread(target=stop.wait) for _ in range(30)]\n"
            "try:\n    for t in threads:\n        t.start()\n    print('30 threads')\n"
            "finally:\n    stop.set()\n")
    capped = run(http, {"source_code": code, "language_id": 71,
                        "max_processes_and_or_threads": 8}, fields="status,stderr")
    assert capped["status"]["id"] == 11 and "can't start new thread" in capped["stderr"]
    roomy = run(http, {"source_code": code, "language_id": 71}, fields="status,stdout")
    assert roomy == {"status": {"id": 3, "description": "Accepted"}, "stdout": "30 threads\n"}


def test_cpu_extra_time_lets_a_program_run_on_but_the_verdict_is_the_time_limit(
        http: httpx.Client) -> None:
    """isolate's ``-x``: killed only past cpu_time_limit + cpu_extra_time (RLIMIT_CPU), Time
    Limit Exceeded once its CPU time passed cpu_time_limit, even when it ended by itself (the
    extra time is large: on a loaded host the kernel's tick-charged CPU limit fires early)."""
    ended = run(http, {"source_code": "import time\nwhile time.process_time() < 1.15: pass\n"
                                      "print('done')",
                       "language_id": 71, "cpu_time_limit": 1, "cpu_extra_time": 4,
                       "wall_time_limit": 20},
                fields="status,stdout,time")
    assert (ended["status"], ended["stdout"]) == (
        {"id": 5, "description": "Time Limit Exceeded"}, "done\n")
    assert float(ended["time"]) > 1.0  # the measure the verdict was taken from


def test_plain_text_echoes_the_source(http: httpx.Client) -> None:
    answer = run(http, {"source_code": "any text,\n  kept as is\n", "language_id": 43},
                 fields="stdout,status,language")
    assert answer == {"stdout": "any text,\n  kept as is\n",
                      "status": {"id": 3, "description": "Accepted"},
                      "language": {"id": 43, "name": "Plain Text"}}


def test_sqlite_is_language_82(http: httpx.Client) -> None:
    """SQLite's shell on an empty database: its text output; an error goes to stderr, the script
    goes on and the shell exits 1 (NZEC), as when Judge0 pipes the script into sqlite3."""
    script = ("CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1), (2);\n"
              "SELECT sum(x) FROM t;\nSELEC 1;\nSELECT 'after', count(*) FROM t;\n")
    answer = run(http, {"source_code": script, "language_id": 82},
                 fields="stdout,stderr,status,exit_code,language")
    assert (answer["stdout"], answer["exit_code"], answer["status"]) == (
        "3\nafter|2\n", 1, {"id": 11, "description": "Runtime Error (NZEC)"})
    assert 'near "SELEC": syntax error' in answer["stderr"]
    assert answer["language"]["name"].startswith("SQL (SQLite 3.")
    again = run(http, {"source_code": "CREATE TABLE t (x INTEGER);\nSELECT count(*) FROM t;\n",
                       "language_id": 82, "expected_output": "0"}, fields="stdout,status")
    assert again == {"stdout": "0\n", "status": {"id": 3, "description": "Accepted"}}


def zipped(**files: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_multi_file_program_runs_its_compile_then_run_scripts(http: httpx.Client) -> None:
    built = run(http, {"language_id": 89, "command_line_arguments": "a 'b c'",
                       "additional_files": zipped(
                           compile="echo building\nprintf '%s\\n' made > built.txt\n",
                           run='cat built.txt\nprintf "[%s]" "$@"\n')},
                fields="stdout,stderr,status")
    assert built == {"stdout": "made\n[a][b c]", "stderr": "building\n",
                     "status": {"id": 3, "description": "Accepted"}}
    failed = run(http, {"language_id": 89, "additional_files": zipped(
        compile="echo 'no compiler here' >&2\nexit 2\n", run="echo never\n")},
                 fields="stdout,stderr,status,exit_code")
    assert failed == {"stdout": None, "stderr": "no compiler here\n",
                      "status": {"id": 11, "description": "Runtime Error (NZEC)"},
                      "exit_code": 2}


# --- expected_output and number_of_runs: the judging engine (docs/compat.md) -----------------


@asynccontextmanager
async def watched_tests(nats_url: str) -> AsyncIterator[dict[str, list[str]]]:
    """Each execution's ``test`` events as the runner publishes them (one per run made):
    execution id → the tests' names, in the order they came."""
    seen: dict[str, list[str]] = {}

    async def on_msg(msg: Msg) -> None:
        try:
            event = event_decoder.decode(msg.data)
        except msgspec.ValidationError:
            return
        if isinstance(event, TestResultEvent):
            seen.setdefault(event.execution_id, []).append(event.result.name)

    nc = await nats.connect(nats_url)
    try:
        await nc.subscribe(subjects.events("*"), cb=on_msg)
        await nc.flush()
        yield seen
    finally:
        await nc.close()


async def judged(api: httpx.AsyncClient, body: dict[str, Any]
                 ) -> tuple[dict[str, Any], JudgementResult]:
    """The Judge0 answer (every field) and the engine's stored judgement behind it."""
    response = await api.post("/judge0/submissions", params={"wait": "true", "fields": "*"},
                              json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    execution_id = answer["token"].replace("-", "")
    stored = await api.get(f"/api/v1/judgements/{execution_id}")
    assert stored.status_code == 200, stored.text
    return answer, msgspec.json.decode(stored.content, type=JudgementResult)


async def settled_events(seen: dict[str, list[str]], token: str, count: int) -> list[str]:
    """The test events of ``token`` once ``count`` came (core NATS may hand them over a
    little after the completion the answer waited for), or what came within two seconds."""
    execution_id = token.replace("-", "")
    for _ in range(200):
        if len(seen.get(execution_id, [])) >= count:
            break
        await asyncio.sleep(0.01)
    return seen.get(execution_id, [])


C_HELLO_AND_BINARY = """\
#include <stdio.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
  char name[10];
  if (argc < 1 || scanf("%9s", name) != 1) return 2;
  printf("hello, %s\\n", name);
  struct stat binary;
  stat(argv[0], &binary);
  FILE *runs = fopen("runs.txt", "a");
  fprintf(runs, "%lu %ld.%09ld\\n", (unsigned long)binary.st_ino, (long)binary.st_mtim.tv_sec,
          binary.st_mtim.tv_nsec);
  fclose(runs);
  runs = fopen("runs.txt", "r");
  for (int c; (c = fgetc(runs)) != EOF;) fputc(c, stderr);
  return 0;
}
"""
"""Says hello, then adds its binary (inode and modification time) to ``runs.txt`` and prints
that file on stderr: the last run shows every run made in its sandbox, and which binary ran."""


async def test_number_of_runs_runs_a_compiled_program_that_many_times(
        platform: Running) -> None:
    """Judge0's runs (isolate_job.rb): five runs, each counted by the runner's own test event
    and each adding a line to a file of the one sandbox they share, all from one binary
    (compiled once); all accepted, the answer shows the last run, ``memory`` is the average."""
    async with watched_tests(platform.nats_url) as seen, httpx.AsyncClient(
            base_url=platform.url, timeout=120, trust_env=False) as api:
        answer, judgement = await judged(api, {
            "source_code": C_HELLO_AND_BINARY, "language_id": 50, "stdin": "world",
            "expected_output": "hello, world", "number_of_runs": 5})
        assert answer["status"] == {"id": 3, "description": "Accepted"}
        assert (answer["stdout"], answer["exit_code"], answer["number_of_runs"]) == (
            "hello, world\n", 0, 5)
        binaries = answer["stderr"].splitlines()
        assert len(binaries) == 5 and len(set(binaries)) == 1, binaries
        assert [t.verdict for t in judgement.tests] == ["accepted"] * 5
        assert all(t.run is not None and t.run.exit_code == 0 for t in judgement.tests)
        assert answer["memory"] == sum(t.memory_kb for t in judgement.tests) // 5
        assert float(answer["wall_time"]) == judgement.tests[4].time_ms / 1000
        assert await settled_events(seen, answer["token"], 5) == ["1", "2", "3", "4", "5"]


SLOW_SECOND = """\
import os
if os.path.exists("ran"):
    while True:
        pass
open("ran", "w").close()
print("first")
"""


async def test_a_wrong_answer_or_a_time_limit_ends_the_runs_there(platform: Running) -> None:
    """The engine judges each run with Judge0's rule and stops at the first that is not
    accepted. The second run of ``SLOW_SECOND`` loops: the runs of one submission share its
    sandbox (docs/compat.md), so it finds the file the first left."""
    async with watched_tests(platform.nats_url) as seen, httpx.AsyncClient(
            base_url=platform.url, timeout=120, trust_env=False) as api:
        (wrong, wrong_judged), (slow, slow_judged) = await asyncio.gather(
            judged(api, {"source_code": "print('hello, there')", "language_id": 71,
                         "expected_output": "hello, world", "number_of_runs": 3}),
            judged(api, {"source_code": SLOW_SECOND, "language_id": 71, "number_of_runs": 3,
                         "cpu_time_limit": 1, "cpu_extra_time": 0, "wall_time_limit": 5}))
        assert wrong["status"] == {"id": 4, "description": "Wrong Answer"}
        assert wrong["stdout"] == "hello, there\n"
        assert [t.verdict for t in wrong_judged.tests] == ["wrong_answer", "skipped", "skipped"]
        assert await settled_events(seen, wrong["token"], 1) == ["1"]
        assert slow["status"] == {"id": 5, "description": "Time Limit Exceeded"}
        assert (slow["message"], slow["stdout"]) == ("Time limit exceeded", None)
        assert [t.verdict for t in slow_judged.tests] == ["accepted", "time_limit", "skipped"]
        cpu = [t.run.cpu_ms for t in slow_judged.tests[:2] if t.run]
        assert float(slow["time"]) == pytest.approx(sum(cpu) / 2000, abs=1e-9)
        assert await settled_events(seen, slow["token"], 2) == ["1", "2"]


def test_one_run_with_an_expected_output_past_the_engines_bound_is_judged_at_the_edge(
        http: httpx.Client, platform: Running) -> None:
    """A single run whose expected_output a judgement's test cannot hold (over 1 MiB) is
    accepted as Judge0 accepts it: run once as a program and compared by Judge0's rule at the
    edge (the trailing line ends do not count), not a judgement (docs/compat.md)."""
    tail = "\n" * MAX_EXPECTED_BYTES
    fields = {"fields": "token,status,stdout,expected_output,time"}
    right = run(http, {"source_code": "print('ok')", "language_id": 71,
                       "expected_output": "ok" + tail}, **fields)
    assert right["status"] == {"id": 3, "description": "Accepted"}
    assert (right["stdout"], len(right["expected_output"])) == ("ok\n", MAX_EXPECTED_BYTES + 2)
    assert right["time"] is not None
    wrong = run(http, {"source_code": "print('ok')", "language_id": 71,
                       "expected_output": "no" + tail}, **fields)
    assert wrong["status"] == {"id": 4, "description": "Wrong Answer"}
    for answer in (right, wrong):
        execution_id = answer["token"].replace("-", "")
        judgement = http.get(f"{platform.url}/api/v1/judgements/{execution_id}")
        assert judgement.status_code == 404, "a program run, not a judgement"


async def test_a_judged_submission_whose_judgement_result_is_gone_is_an_internal_error(
        platform: Running) -> None:
    """The execution completed, but the judgement's result is no longer in the bucket: the
    answer is Internal Error (13) with a message, not Wrong Answer from comparing
    expected_output with the judgement execution's empty stdout."""
    async with httpx.AsyncClient(base_url=platform.url, timeout=120, trust_env=False) as api:
        answer, _ = await judged(api, {"source_code": "print('hi')", "language_id": 71,
                                       "expected_output": "hi"})
        assert answer["status"] == {"id": 3, "description": "Accepted"}
        nc = await nats.connect(platform.nats_url)
        try:
            bucket = await nc.jetstream().key_value(subjects.EXECUTIONS_BUCKET)
            await bucket.delete(subjects.judgement_key(answer["token"].replace("-", "")))
        finally:
            await nc.close()
        again = (await api.get(f"/judge0/submissions/{answer['token']}",
                               params={"fields": "status,message,stdout"})).json()
        assert again["status"] == {"id": 13, "description": "Internal Error"}
        assert (again["message"], again["stdout"]) == (NOT_JUDGED, None)

"""Judgements end to end on the shared platform (docs/judging.md): ``POST /api/v1/judgements``
and the ``judge`` socket frame, on real NATS and Docker. Most tests judge an echo program (its
output is its test's input), so that each test's ``stdin`` is exactly what the checker sees;
independent judgements are sent at once, to keep the file short."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from contracts.judging import JudgementResult, TestResultEvent
from tests.conftest import KEYS, Running
from tests.integration.test_webhooks import start_receiver, verify
from tests.integration.wsclient import Client

ECHO = {"language": "python", "mainFile": "echo.py",
        "files": [{"name": "echo.py", "content":
                   "import sys\nsys.stdout.write(sys.stdin.read())\n"}]}
ADD_CPP = ("#include <iostream>\nint main() { long a, b; std::cin >> a >> b; "
           "std::cout << a + b << \"\\n\"; }\n")


def echo_judgement(tests: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**ECHO, "tests": tests, **extra}


def case(name: str, got: str, expected: str, **extra: Any) -> dict[str, Any]:
    """A test whose program (the echo) prints ``got``."""
    return {"name": name, "stdin": got, "expectedOutput": expected, **extra}


@pytest.fixture
async def api(platform: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=120, trust_env=False) as client:
        yield client


async def judged(api: httpx.AsyncClient, body: dict[str, Any]) -> JudgementResult:
    response = await api.post("/api/v1/judgements?wait=true", json=body)
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content, type=JudgementResult)


def verdicts(result: JudgementResult) -> dict[str, str]:
    return {test.name: test.verdict for test in result.tests}


CHECKER_CASES = {
    "exact": ({"type": "exact"}, case("ok", "x\n", "x\n"), case("bad", "y\n", "x\n"),
              "wrong_answer"),
    "lines": ({"type": "lines"}, case("ok", "1\n2  \n\n", "1\n2\n"),
              case("bad", "1  2\n", "1 2\n"), "presentation_error"),
    "line_tokens": ({"type": "line_tokens"}, case("ok", "1   2\n3\n", "1 2\n3\n"),
                    case("bad", "1\n2 3\n", "1 2\n3\n"), "presentation_error"),
    "tokens": ({"type": "tokens"}, case("ok", "1\n2   3\n", "1 2 3"),
               case("bad", "1 2 4", "1 2 3"), "wrong_answer"),
    "float": ({"type": "float", "absolute": 1e-3, "relative": 1e-3},
              case("ok", "0.5004\n", "0.5000\n"), case("bad", "0.51\n", "0.5\n"),
              "wrong_answer"),
    "unordered": ({"type": "unordered"}, case("ok", "b\na\n", "a\nb\n"),
                  case("bad", "a\nc\n", "a\nb\n"), "wrong_answer"),
}


async def test_each_builtin_checker_accepts_and_rejects(api: httpx.AsyncClient) -> None:
    names = list(CHECKER_CASES)
    results = await asyncio.gather(*(
        judged(api, echo_judgement([ok, bad], checker=checker))
        for checker, ok, bad, _ in CHECKER_CASES.values()))
    for name, result in zip(names, results, strict=True):
        expected_bad = CHECKER_CASES[name][3]
        assert verdicts(result) == {"ok": "accepted", "bad": expected_bad}, name
        assert (result.verdict, result.passed, result.total) == (expected_bad, 1, 2), name
        assert (result.score, result.max_score) == (1.0, 2.0), name
    wrong = next(t for t in results[0].tests if t.name == "bad")
    assert wrong.diff is not None and (wrong.diff.expected, wrong.diff.got) == ("x\\n", "y\\n")


async def test_a_cpp_submission_is_compiled_once_and_judged(api: httpx.AsyncClient) -> None:
    tests = [case(str(n), f"{n} {n}\n", f"{2 * n}\n") for n in range(6)]
    tests.append(case("wrong", "1 1\n", "3\n"))
    result = await judged(api, {"language": "cpp", "mainFile": "a.cpp", "tests": tests,
                                "files": [{"name": "a.cpp", "content": ADD_CPP}]})
    assert result.verdict == "wrong_answer"
    assert (result.passed, result.total) == (6, 7)
    assert verdicts(result)["wrong"] == "wrong_answer"


async def test_a_compile_error_fails_every_test_with_the_compiler_output(
    api: httpx.AsyncClient,
) -> None:
    result = await judged(api, {"language": "cpp", "mainFile": "a.cpp",
                                "files": [{"name": "a.cpp", "content": "int main() { oops }"}],
                                "tests": [case("1", "", ""), case("2", "", "")]})
    assert result.verdict == "compile_error"
    assert set(verdicts(result).values()) == {"compile_error"}
    assert result.message and "oops" in result.message


TESTLIB_PY = """\
import sys
input_file, output_file, answer_file = sys.argv[1:4]
got = open(output_file).read().split()
want = open(answer_file).read().split()
if open(input_file).read().strip() == "fail":
    sys.stderr.write("the checker cannot read the answer")
    sys.exit(3)
right = sum(1 for a, b in zip(got, want) if a == b)
if right == len(want) and len(got) == len(want):
    sys.exit(0)
if right == 0:
    sys.stderr.write("nothing right")
    sys.exit(1)
sys.stderr.write(f"points {right}\\n{right} of {len(want)} right")
sys.exit(7)
"""


def checker(code: str, **limits: int) -> dict[str, Any]:
    return {"type": "custom", "language": "python", "mainFile": "check.py",
            "files": [{"name": "check.py", "content": code}],
            **({"limits": limits} if limits else {})}


async def test_a_testlib_checker_gives_partial_points(api: httpx.AsyncClient) -> None:
    result = await judged(api, echo_judgement(
        [case("all", "a b c d", "a b c d", points=4), case("half", "a b x y", "a b c d", points=4),
         case("none", "w x y z", "a b c d", points=4), case("broken", "fail", "a", points=4)],
        checker=checker(TESTLIB_PY)))
    assert verdicts(result) == {"all": "accepted", "half": "partial", "none": "wrong_answer",
                                "broken": "internal_error"}
    half = next(t for t in result.tests if t.name == "half")
    assert half.score == 2.0
    assert "2 of 4 right" in half.checker_message
    assert (result.score, result.max_score) == (6.0, 16.0)


TESTLIB_CPP = """\
#include "testlib.h"
int main(int argc, char* argv[]) {
    registerTestlibCmd(argc, argv);
    int right = 0, n = 0;
    while (!ans.seekEof()) {
        std::string want = ans.readToken();
        n++;
        if (!ouf.seekEof() && ouf.readToken() == want) right++;
    }
    if (right == n) quitf(_ok, "all %d right", n);
    if (right == 0) quitf(_wa, "nothing right");
    quitp(right, "%d of %d right", right, n);
}
"""
ECHO_CPP = """\
#include <bits/stdc++.h>
constexpr long spin() {  // over a second of the compiler's time, whatever the load
    long s = 0;
    for (int i = 0; i < 110; i++)
        for (int j = 0; j < 110; j++)
            for (int k = 0; k < 110; k++) s += (i ^ j ^ k) & 1;
    return s;
}
static_assert(spin() > 0);
int main() { std::cout << std::cin.rdbuf(); }
"""


async def test_a_cpp_solution_with_tight_limits_and_a_testlib_h_checker(
    api: httpx.AsyncClient,
) -> None:
    """testlib.h is in the C++ image; a test's limits bind the program, not its compiler
    (compiling this takes seconds, the tests' limit is 500 ms)."""
    result = await judged(api, {
        "language": "cpp", "mainFile": "main.cpp", "limits": {"wallMs": 500, "cpuMs": 500},
        "files": [{"name": "main.cpp", "content": ECHO_CPP}],
        "tests": [case("all", "a b c d", "a b c d", points=4),
                  case("half", "a b x y", "a b c d", points=4),
                  case("none", "w x y z", "a b c d", points=4)],
        "checker": {"type": "custom", "language": "cpp", "mainFile": "check.cpp",
                    "files": [{"name": "check.cpp", "content": TESTLIB_CPP}]}})
    assert verdicts(result) == {"all": "accepted", "half": "partial",
                                "none": "wrong_answer"}, result
    half = next(t for t in result.tests if t.name == "half")
    assert (half.score, half.checker_message) == (2.0, "points 2 2 of 4 right")
    assert (result.score, result.max_score) == (6.0, 12.0)


async def test_cpu_past_the_limit_is_time_limit_even_within_cpu_extra_time(
    api: httpx.AsyncClient,
) -> None:
    spin = "import time\nwhile time.process_time() < 1.3:\n    pass\nprint('done')\n"
    result = await judged(api, {
        "language": "python", "mainFile": "main.py",
        "limits": {"cpuMs": 1000, "cpuExtraMs": 3000, "wallMs": 8000},
        "files": [{"name": "main.py", "content": spin}], "tests": [case("1", "", "done")]})
    assert verdicts(result) == {"1": "time_limit"}


async def test_a_checker_that_crashes_or_loops_gives_internal_error(
    api: httpx.AsyncClient,
) -> None:
    crashing, looping = await asyncio.gather(
        judged(api, echo_judgement([case("1", "x", "x")],
                                   checker=checker("import os\nos.abort()\n"))),
        judged(api, echo_judgement([case("1", "x", "x")],
                                   checker=checker("while True:\n    pass\n", wallMs=500))))
    for result in (crashing, looping):
        assert verdicts(result) == {"1": "internal_error"}
        assert result.verdict == "internal_error"
    assert "time_limit" in looping.tests[0].checker_message


SLOW_ON_SLOW = ("import sys, time\ndata = sys.stdin.read()\n"
                "if data == 'slow':\n    time.sleep(2)\nprint(data)\n")


async def test_a_test_with_its_own_limit_gets_time_limit_and_the_others_are_judged(
    api: httpx.AsyncClient,
) -> None:
    body = {"language": "python", "mainFile": "main.py", "limits": {"wallMs": 8000},
            "files": [{"name": "main.py", "content": SLOW_ON_SLOW}],
            "tests": [case("a", "a", "a"), case("tight", "slow", "slow", limits={"wallMs": 500}),
                      case("roomy", "slow", "slow"), case("b", "b", "b")]}
    result = await judged(api, body)
    assert verdicts(result) == {"a": "accepted", "tight": "time_limit", "roomy": "accepted",
                                "b": "accepted"}
    assert result.verdict == "time_limit"


async def test_stop_on_first_failure_skips_the_tests_after_it(api: httpx.AsyncClient) -> None:
    tests = [case("1", "a", "a"), case("2", "a", "b"), case("3", "a", "a"),
             case("4", "a", "a"), case("5", "a", "a")]
    result = await judged(api, echo_judgement(tests, stopOnFirstFailure=True))
    assert verdicts(result) == {"1": "accepted", "2": "wrong_answer", "3": "skipped",
                                "4": "skipped", "5": "skipped"}
    assert (result.verdict, result.passed, result.score) == ("wrong_answer", 1, 1.0)


async def test_points_and_groups_add_up(api: httpx.AsyncClient) -> None:
    tests = [case("a", "a", "a", points=2), case("b", "b", "x", points=3),
             case("c", "c", "c"), case("d", "d", "d"), case("e", "e", "e"), case("f", "f", "x")]
    groups = [{"name": "easy", "tests": ["c", "d"], "points": 10},
              {"name": "hard", "tests": ["e", "f"], "points": 20}]
    result = await judged(api, echo_judgement(tests, groups=groups))
    assert [(g.name, g.score, g.max_score) for g in result.groups] == [
        ("easy", 10.0, 10.0), ("hard", 0.0, 20.0)]
    assert (result.score, result.max_score) == (12.0, 35.0)
    assert result.passed == 4


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    (echo_judgement([case("1", "", "x" * 1_000_000) | {"name": str(n)} for n in range(5)]),
     400, "invalid_request", "store larger sets as a problem"),
    (echo_judgement([case("1", "", "")], checker={"type": "regex"}),
     400, "invalid_request", "checker"),
    (echo_judgement([case("1", "", "")], checker=checker("") | {"language": "klingon"}),
     400, "unknown_language", "for the checker"),
    (echo_judgement([case("1", "", ""), case("1", "", "")]),
     400, "invalid_request", "appears twice"),
    (echo_judgement([case("1", "", "")], groups=[{"name": "g", "tests": ["2"], "points": 1}]),
     400, "invalid_request", "not among the tests"),
])
async def test_bad_judgements_are_refused_with_a_clear_error(
    api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, words: str,
) -> None:
    response = await api.post("/api/v1/judgements", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]


async def test_a_judgement_is_kept_and_read_again(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/judgements", json=echo_judgement(
        [case("1", "a", "a")], requestId="mine"))
    assert response.status_code == 202
    judgement_id = response.json()["id"]
    again = await api.get(f"/api/v1/judgements/{judgement_id}?wait=true")
    result = msgspec.json.decode(again.content, type=JudgementResult)
    assert (result.id, result.verdict, result.request_id) == (judgement_id, "accepted", "mine")
    execution = await api.post("/api/v1/executions?wait=true", json={**ECHO, "stdin": "x"})
    not_one = await api.get(f"/api/v1/judgements/{execution.json()['id']}")
    assert not_one.status_code == 404


async def test_the_socket_streams_each_test_then_the_judgement(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        await client.send({"type": "judge", "requestId": "j", **echo_judgement(
            [case("1", "a", "a"), case("2", "a", "b"), case("3", "a", "a", points=2)],
            groups=[{"name": "g", "tests": ["1"], "points": 5}])})
        queued = await client.receive()
        assert (queued["type"], queued["status"]) == ("status", "queued"), queued
        events = (await client.collect(queued["executionId"])).events
    finally:
        await client.close()
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["judgement", "completion"], kinds
    tests = [msgspec.json.decode(json.dumps(e), type=TestResultEvent)
             for e in events if e["type"] == "test"]
    assert sorted((t.result.name, t.result.verdict) for t in tests) == [
        ("1", "accepted"), ("2", "wrong_answer"), ("3", "accepted")]
    result = msgspec.json.decode(json.dumps(events[-2]["result"]), type=JudgementResult)
    assert (result.verdict, result.passed, result.score) == ("wrong_answer", 2, 7.0)
    final = {test.name: test.score for test in result.tests}
    assert {t.result.name: t.result.score for t in tests} == final == {"1": 0, "2": 0, "3": 2}
    assert events[-1]["verdict"] == "ok"


async def test_a_socket_judgement_of_an_unknown_problem_is_refused(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        await client.send({"type": "judge", "requestId": "p", **ECHO, "problemId": "nope"})
        refused = await client.receive()
    finally:
        await client.close()
    assert (refused["type"], refused["code"], refused["requestId"]) == (
        "error", "not_found", "p"), refused


ECHO_C = ("#include <stdio.h>\nint main(void) { int c; while ((c = getchar()) != EOF) "
          "putchar(c); return 0; }\n")


async def test_under_gvisor_a_test_with_its_own_memory_runs_the_compiled_program(
        gvisor_platform: Running) -> None:
    """runsc cannot change a container's limits: such a test gets a new container, in which
    the program is compiled again (it ran there without its binary: runtime_error)."""
    async with httpx.AsyncClient(base_url=gvisor_platform.url, timeout=120,
                                 trust_env=False) as api:
        result = await judged(api, {
            "language": "c", "mainFile": "echo.c",
            "files": [{"name": "echo.c", "content": ECHO_C}],
            "tests": [case("1", "a", "a"), case("small", "b", "b", limits={"memoryMb": 96}),
                      case("3", "c", "c")]})
    assert verdicts(result) == {"1": "accepted", "small": "accepted", "3": "accepted"}, result


async def test_a_stored_problem_is_judged_by_its_id(api: httpx.AsyncClient) -> None:
    problem = {"tests": [case("1", "a  b", "a b", points=3), case("2", "b", "c", points=2)],
               "checker": {"type": "tokens"}}
    created = await api.post("/api/v1/problems", json=problem)
    assert created.status_code == 201, created.text
    problem_id = created.json()["id"]
    again = await api.post("/api/v1/problems", json=problem)
    assert (again.status_code, again.json()["id"]) == (201, problem_id)
    result = await judged(api, {**ECHO, "problemId": problem_id})
    assert verdicts(result) == {"1": "accepted", "2": "wrong_answer"}
    assert (result.score, result.max_score) == (3.0, 5.0)
    unknown = await api.post("/api/v1/judgements", json={**ECHO, "problemId": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


GUESS_INTERACTOR = """\
import sys
secret = int(open(sys.argv[1]).read())
for guesses in range(1, 31):
    line = sys.stdin.readline()
    if not line:
        sys.stderr.write("the solution stopped guessing")
        sys.exit(1)
    guess = int(line)
    if guess == secret:
        print("=", flush=True)
        sys.stderr.write(f"found in {guesses}")
        sys.exit(0)
    print("<" if secret < guess else ">", flush=True)
sys.stderr.write("more than 30 guesses")
sys.exit(1)
"""
BINARY_SEARCH = """\
low, high = 1, 1000
while True:
    middle = (low + high) // 2
    print(middle, flush=True)
    answer = input()
    if answer == "=":
        break
    low, high = (low, middle - 1) if answer == "<" else (middle + 1, high)
"""
ONE_BY_ONE = """\
guess = 1
while True:
    print(guess, flush=True)
    if input() == "=":
        break
    guess += 1
"""


async def test_an_interactive_guessing_game_judges_each_solution(
    api: httpx.AsyncClient,
) -> None:
    interactor = {"type": "interactive", "language": "python", "mainFile": "interact.py",
                  "files": [{"name": "interact.py", "content": GUESS_INTERACTOR}]}
    tests = [case(secret, secret, "") for secret in ("1", "500", "999")]

    def solution(code: str) -> dict[str, Any]:
        return {"language": "python", "mainFile": "guess.py", "tests": tests,
                "files": [{"name": "guess.py", "content": code}], "checker": interactor}

    right, wrong = await asyncio.gather(judged(api, solution(BINARY_SEARCH)),
                                        judged(api, solution(ONE_BY_ONE)))
    assert verdicts(right) == {"1": "accepted", "500": "accepted", "999": "accepted"}
    assert all("found in" in test.checker_message for test in right.tests)
    assert verdicts(wrong) == {"1": "accepted", "500": "wrong_answer", "999": "wrong_answer"}
    assert "more than 30 guesses" in wrong.tests[1].checker_message


async def test_a_running_judgement_is_stopped_and_never_judged(api: httpx.AsyncClient) -> None:
    sleeper = {"language": "python", "mainFile": "main.py", "limits": {"wallMs": 60_000},
               "files": [{"name": "main.py", "content": "import time\ntime.sleep(60)\n"}],
               "tests": [case("1", "", ""), case("2", "", "")]}
    judgement_id = (await api.post("/api/v1/judgements", json=sleeper)).json()["id"]
    while (await api.get(f"/api/v1/judgements/{judgement_id}")).json()["status"] != "running":
        await asyncio.sleep(0.05)
    stop = await api.delete(f"/api/v1/executions/{judgement_id}")
    assert stop.status_code in (200, 202), stop.text  # 202: still ending after 5 s (load)
    ended = await api.get(f"/api/v1/executions/{judgement_id}?wait=true&timeout=40")
    assert ended.json()["verdict"] == "cancelled", ended.text
    result = msgspec.json.decode(
        (await api.get(f"/api/v1/judgements/{judgement_id}")).content, type=JudgementResult)
    assert result.verdict == "internal_error"
    assert result.message == "the judgement was stopped"


async def test_the_judgement_is_posted_signed_to_its_callback_url(keyed: Running) -> None:
    receiver = start_receiver(0)
    try:
        async with httpx.AsyncClient(base_url=keyed.url, timeout=120, trust_env=False,
                                     headers={"Authorization": f"Bearer {KEYS['alice']}"}
                                     ) as http:
            accepted = await http.post("/api/v1/judgements", json=echo_judgement(
                [case("1", "a", "a"), case("2", "a", "b")], callbackUrl=receiver.url))
            assert accepted.status_code == 202, accepted.text
            [received] = await receiver.wait_for(1)
    finally:
        receiver.stop()
    assert verify(received)
    result = msgspec.json.decode(received.body, type=JudgementResult)
    assert (result.id, result.verdict, result.passed) == (
        accepted.json()["id"], "wrong_answer", 1)

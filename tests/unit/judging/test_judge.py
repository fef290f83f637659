"""The judge (runners/judge.py) on fake sandboxes: its seats, its events, its failures."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

from contracts.judging import Case, CustomChecker, Interactor, JudgementEvent, TokensChecker
from contracts.messages import ExecutionEvent, JudgementJob, Limits, SourceFile
from contracts.runtimes import Catalog, Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners import judge as judge_module
from runners.judge import INLINE_CHECK_CHARS, PARALLEL_SEATS, Judge, builtin_check, seats_wanted
from runners.judge_helper import open_helper
from runners.judge_seat import as_program
from runners.judging import checkers
from runners.judging.checkers import CheckOutcome
from runners.sandbox import Sandbox, SandboxError

PYTHON = Runtime(name="python", display_name="Python", extension=".py", image="python",
                 run=["python3", "{main}", "{args}"],
                 limits=RuntimeLimits(wall_ms=10_000, cpu_ms=10_000, memory_mb=256,
                                      processes=64))
SETTINGS = RunnerSettings(max_wall_ms=300_000, max_memory_mb=1024, output_cap_kb=1024)
ECHO = [SourceFile("a.py", "import sys\nsys.stdout.write(sys.stdin.read())\n")]


def job(**changes: object) -> JudgementJob:
    fields: dict[str, object] = {
        "execution_id": "j1", "owner": "key:a", "priority": 1, "submitted_at": 0.0,
        "language": "python", "files": ECHO, "main_file": "a.py", "tests": []}
    return JudgementJob(**{**fields, **changes})  # type: ignore[arg-type]


def cases(count: int) -> list[Case]:
    return [Case(name=str(n), expected_output="x", stdin="x") for n in range(count)]


def test_an_interactive_judgement_takes_one_seat_however_many_tests() -> None:
    interactor = Interactor(language="python", files=ECHO, main_file="a.py")
    assert seats_wanted(job(checker=interactor), cases(40)) == 1
    assert seats_wanted(job(checker=TokensChecker()), cases(40)) == PARALLEL_SEATS
    assert seats_wanted(job(), cases(2)) == 1


class NoSandboxes:
    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        raise SandboxError("no container")

    async def fit(self, sandbox: Sandbox, runtime: Runtime, memory_mb: int,
                  processes: int) -> Sandbox:
        return sandbox

    def give_back(self, sandbox: Sandbox, owners_slot: bool) -> None:
        pass

    async def take_away(self, sandbox: Sandbox) -> None:
        pass


async def test_a_sandbox_lost_at_the_compile_is_an_internal_error_judgement() -> None:
    published: list[ExecutionEvent] = []

    async def publish(event: ExecutionEvent) -> None:
        published.append(event)

    judge = Judge(job(), cases(2), PYTHON, cast(Catalog, None), SETTINGS, NoSandboxes(),
                  publish)
    result = await judge.run()
    assert (result.verdict, result.total) == ("internal_error", 2)
    assert "no container" in (result.message or "")
    assert published == [JudgementEvent("j1", result)]


class OneSandbox(NoSandboxes):
    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        return cast(Sandbox, SimpleNamespace(memory_mb=256, processes=64))


@pytest.mark.parametrize("kind", [CustomChecker, Interactor])
async def test_a_checker_and_an_interactor_open_alike_as_the_judgements_program(
        kind: type[CustomChecker | Interactor]) -> None:
    helper = kind(language="PY", files=ECHO, main_file="a.py", limits=Limits(wall_ms=900))
    judgement = job(isolation="gvisor", checker=helper)
    python = msgspec.structs.replace(PYTHON, aliases=["py"])
    opened = await open_helper(helper, judgement, Catalog([python]), SETTINGS, OneSandbox(), {})
    assert not isinstance(opened, str)
    seat, limits = opened
    assert seat.program == msgspec.structs.replace(
        as_program(judgement, helper.limits), files=ECHO, language="python")
    assert limits.wall_ms == 900
    # the compile has room on a loaded machine: the server's longest wall, the runtime's CPU
    assert (seat.compile_limits.compile_wall_ms, seat.compile_limits.compile_cpu_ms) == (
        SETTINGS.max_wall_ms, PYTHON.limits.cpu_ms)
    role = "checker" if kind is CustomChecker else "interactor"
    unknown = msgspec.structs.replace(helper, language="klingon")
    assert await open_helper(unknown, judgement, Catalog([python]), SETTINGS, OneSandbox(),
                             {}) == f"the {role}'s language 'klingon' is not in the catalog"


def test_a_submissions_compile_has_room_whatever_its_tests_limits() -> None:
    tight = job(limits=Limits(wall_ms=500, cpu_ms=500))
    judge = Judge(tight, cases(1), PYTHON, cast(Catalog, None), SETTINGS, NoSandboxes(),
                  cast(Any, None))
    limits = judge.compile_limits()
    assert (limits.compile_wall_ms, limits.compile_cpu_ms) == (SETTINGS.max_wall_ms, 10_000)


async def test_a_large_output_is_checked_off_the_event_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = checkers.check

    def check(*args: Any) -> CheckOutcome:
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(judge_module, "check", check)
    small = "1 2\n"
    large = "1 2\n" * (INLINE_CHECK_CHARS // 8 + 1)
    assert (await builtin_check(TokensChecker(), small, small)).verdict == "accepted"
    assert (await builtin_check(TokensChecker(), large, large)).verdict == "accepted"
    assert [t is threading.main_thread() for t in threads] == [True, False]

"""The agent's warm compile server reports how it failed: a crash is the server's own exit code
or signal, and only a server still working at the wall limit is a timeout (issue #18)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from contracts.settings import REPO_ROOT
from runners.agent_messages import Done, decode_event

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
compile_server_module: Any = importlib.import_module("agent_compile_server")
budget_module: Any = importlib.import_module("agent_budget")


def reported(result: dict[str, Any]) -> Done:
    """The compile server's result as the runner decodes it, once the agent added its phase;
    nothing of it lost on the way."""
    line = json.dumps({**result, "phase": "compile"}).encode()
    done = decode_event(line)
    assert isinstance(done, Done)
    assert msgspec.to_builtins(done) == json.loads(line)
    return done


def budget() -> Any:
    return budget_module.OutputBudget(1000)


def server(script: str) -> Any:
    compile_server = compile_server_module.CompileServer(["javac-server"], {})
    compile_server.proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True)
    compile_server.ready = True
    return compile_server


def test_a_crashed_compile_server_reports_its_signal_not_a_timeout(
        capfd: pytest.CaptureFixture[str]) -> None:
    crash = "import os, signal, sys\nsys.stdin.readline()\nos.kill(os.getpid(), signal.SIGSEGV)"
    result = server(crash).compile(["javac", "Main.java"], 10_000, budget())
    assert (result["timedOut"], result["signal"], result["exitCode"]) == (False, "SIGSEGV", None)
    assert reported(result).signal == "SIGSEGV"
    assert "compile server ended unexpectedly (SIGSEGV)" in capfd.readouterr().out


def test_a_compile_server_that_exits_reports_its_exit_code() -> None:
    result = server("import sys\nsys.stdin.readline()\nsys.exit(3)").compile(
        ["javac", "Main.java"], 10_000, budget())
    assert (result["timedOut"], result["signal"], result["exitCode"]) == (False, None, 3)
    assert reported(result).exit_code == 3


def test_only_a_compile_server_still_working_at_the_wall_limit_timed_out() -> None:
    result = server("import sys, time\nsys.stdin.readline()\ntime.sleep(60)").compile(
        ["javac", "Main.java"], 300, budget())
    assert (result["timedOut"], result["signal"]) == (True, "SIGKILL")
    assert reported(result).timed_out


def test_diagnostics_past_the_output_budget_are_cut_and_reported(
        capfd: pytest.CaptureFixture[str]) -> None:
    answer = "import sys\nsys.stdin.readline()\nsys.stdout.write('EXIT 1 1500\\n' + 'x' * 1500)\n"
    left = budget()
    compile_server = server(answer + "sys.stdout.flush()\nsys.stdin.readline()")
    result = compile_server.compile(["javac", "Main.java"], 10_000, left)
    compile_server.stop()
    assert (result["exitCode"], result["outputExceeded"], left.left) == (1, True, 0)
    assert reported(result).output_exceeded
    assert capfd.readouterr().out.count("x") == 1000

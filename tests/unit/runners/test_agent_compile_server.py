"""The agent's warm compile server reports how it failed: a crash is the server's own exit code
or signal, and only a server still working at the wall limit is a timeout (issue #18)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest

from contracts.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
helpers: Any = importlib.import_module("agent_helpers")


def server(script: str) -> Any:
    compile_server = helpers.CompileServer(["javac-server"], {})
    compile_server.proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True)
    compile_server.ready = True
    return compile_server


def test_a_crashed_compile_server_reports_its_signal_not_a_timeout(
        capfd: pytest.CaptureFixture[str]) -> None:
    crash = "import os, signal, sys\nsys.stdin.readline()\nos.kill(os.getpid(), signal.SIGSEGV)"
    result = server(crash).compile(["javac", "Main.java"], {"wallMs": 10_000}, [1000])
    assert (result["timedOut"], result["signal"], result["exitCode"]) == (False, "SIGSEGV", None)
    assert "compile server ended unexpectedly (SIGSEGV)" in capfd.readouterr().out


def test_a_compile_server_that_exits_reports_its_exit_code() -> None:
    result = server("import sys\nsys.stdin.readline()\nsys.exit(3)").compile(
        ["javac", "Main.java"], {"wallMs": 10_000}, [1000])
    assert (result["timedOut"], result["signal"], result["exitCode"]) == (False, None, 3)


def test_only_a_compile_server_still_working_at_the_wall_limit_timed_out() -> None:
    result = server("import sys, time\nsys.stdin.readline()\ntime.sleep(60)").compile(
        ["javac", "Main.java"], {"wallMs": 300}, [1000])
    assert (result["timedOut"], result["signal"]) == (True, "SIGKILL")

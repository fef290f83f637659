"""``coderunner run`` against a real platform: Ctrl-C stops the run on the platform (not only
the client), and ``--stdin``, ``--timeout`` and ``--memory`` reach the run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from tests.conftest import Running
from tests.integration.wsclient import stored_completion

pytestmark = pytest.mark.timeout(120)


FOREGROUND = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
              "os.execv(sys.executable, [sys.executable, '-m', 'coderunner', *sys.argv[1:]])")
"""Start the CLI as from a terminal, with Ctrl-C's default: a test run started in the background
of a script inherits SIGINT ignored, and so would the CLI (Python leaves it ignored)."""


def cli(platform: Running, *args: str) -> subprocess.Popen[str]:
    """``coderunner run``; its threads' stacks go to stderr on SIGABRT (see ``ended``)."""
    return subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, "run", *args, "--url", platform.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"})


def ended(run: subprocess.Popen[str], timeout_s: float) -> tuple[str, str]:
    """The CLI's stdout and stderr once it ended. One still running after ``timeout_s`` is
    aborted, and the failure shows where each of its threads was (Python's faulthandler)."""
    try:
        return run.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGABRT)
    _, err = run.communicate()
    pytest.fail(f"coderunner run had not ended {timeout_s:.0f} s later; it said:\n{err}")


async def test_ctrl_c_stops_the_run_on_the_platform(platform: Running, tmp_path: Path) -> None:
    program = tmp_path / "main.py"
    program.write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    run = cli(platform, str(program))
    assert run.stdout is not None
    assert run.stdout.readline() == "started\n"  # the program runs on the platform
    run.send_signal(signal.SIGINT)
    _, err = ended(run, 30)
    assert run.returncode == 130, err
    said = re.search(r"stopped: the platform ended (\w+) \(cancelled\)", err)
    assert said is not None, err
    stored = msgspec.json.decode(await stored_completion(platform.nats_url, said[1]))
    assert stored["verdict"] == "cancelled"


MEMORY_THEN_INPUT = """\
import pathlib, time
for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
    if pathlib.Path(limit).exists():
        print(int(pathlib.Path(limit).read_text()) // 2**20, "MB")
print(input(), flush=True)
time.sleep(30)
"""


def test_stdin_timeout_and_memory_reach_the_run(platform: Running, tmp_path: Path) -> None:
    program = tmp_path / "main.py"
    program.write_text(MEMORY_THEN_INPUT)
    given = tmp_path / "input.txt"
    given.write_text("from the file\n")
    run = cli(platform, str(program), "--stdin", str(given), "--timeout", "1.5",
              "--memory", "64")
    out, err = ended(run, 60)
    assert out == "64 MB\nfrom the file\n"
    assert "coderunner: time_limit" in err
    assert run.returncode == 1


def test_stats_names_its_figures_in_words_within_80_columns(platform: Running) -> None:
    shown = subprocess.run([sys.executable, "-m", "coderunner", "stats"], check=True,
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "NATS_URL": platform.nats_url}).stdout
    assert [line for line in shown.splitlines() if len(line) > 80] == []
    assert re.search(r"^Queue: \d+ waiting \(browser \d+, API \d+, background \d+\)", shown,
                     re.MULTILINE), shown
    assert "Runners: 1 alive." in shown
    assert "Warm containers (ready/target): " in shown

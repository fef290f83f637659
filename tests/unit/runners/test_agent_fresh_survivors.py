"""A reset that finds a process still alive says what it is (runners/agent/agent_fresh.py
``describe_process``): its name, state, parent and threads, so that a failed reset in CI can be
understood from its error alone."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from typing import Any

from contracts.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
fresh: Any = importlib.import_module("agent_fresh")


def test_a_live_process_is_described_by_name_state_parent_and_threads() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        threads = len(os.listdir("/proc/self/task"))
        with open("/proc/self/comm") as f:
            name = f.read().strip()
        assert fresh.describe_process(os.getpid()) == (
            f"{os.getpid()}: {name}, state R, parent {os.getppid()}, {threads} threads")
    finally:
        stop.set()
        worker.join()


def test_a_zombie_and_a_gone_process() -> None:
    child = subprocess.Popen(["true"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert fresh.describe_process(child.pid) == (
            f"{child.pid}: true, state Z, parent {os.getpid()}, 1 threads")
    finally:
        child.wait()
    assert fresh.describe_process(child.pid) == f"{child.pid}: gone"

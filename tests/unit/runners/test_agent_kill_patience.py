"""A reset kills the user's processes and waits until they are gone (runners/agent/
agent_housekeeping.py ``kill_until_none``): by time, not by a count of sweeps. A javac server a
program had pinned to one CPU at niceness 19 took longer to tear down than 100 sweeps on a
loaded machine (ci15), and the warm sandbox was thrown away."""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any

import pytest

from contracts.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
housekeeping: Any = importlib.import_module("agent_housekeeping")


def test_a_process_slow_to_die_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    gone_at = time.monotonic() + 0.5  # a slow teardown: still there after 100 quick sweeps
    monkeypatch.setattr(housekeeping, "kill_user_processes",
                        lambda platform: [] if time.monotonic() >= gone_at else [8])
    monkeypatch.setattr(housekeeping, "reap", lambda spare=None: None)
    assert housekeeping.kill_until_none(set()) == 1
    assert time.monotonic() >= gone_at, "gave up while the process was still there"


def test_the_wait_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "KILL_PATIENCE_S", 0.2)
    monkeypatch.setattr(housekeeping, "kill_user_processes", lambda platform: [8])
    monkeypatch.setattr(housekeeping, "reap", lambda spare=None: None)
    started = time.monotonic()
    housekeeping.kill_until_none(set())
    assert 0.2 <= time.monotonic() - started < 2.0

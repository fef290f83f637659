"""Ctrl-C in ``coderunner run``: counted by a signal handler and looked at between the socket's
reads, never raised inside the socket library (whose reads, locks and reader thread it could
cut short); it sends the stop, waits for the platform's completion, and a second Ctrl-C stops
the wait. A fake socket stands for the platform."""

from __future__ import annotations

import io
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coderunner import client
from coderunner.client import EXIT_INTERRUPTED, Program, run_file


@pytest.fixture(autouse=True)
def ctrl_c_works() -> Iterator[None]:
    """Ctrl-C as a terminal gives it: a test run started in a script's background inherits
    SIGINT ignored (bash), which ``coderunner run`` keeps, and no press would ever count."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


class FakeSocket:
    """``recv`` plays ``script``: a frame to return, or an action to do inside the read (as if
    the signal came while the library read) before timing out as a read with a timeout does."""

    def __init__(self, script: list[dict[str, Any] | Callable[[], None]]) -> None:
        self.script = script
        self.sent: list[dict[str, Any]] = []
        self.reads_begun = self.reads_finished = 0

    def __enter__(self) -> FakeSocket:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def recv(self, timeout: float | None = None) -> str:
        self.reads_begun += 1
        step = self.script.pop(0) if self.script else None
        if callable(step):
            step()
        self.reads_finished += 1
        if isinstance(step, dict):
            return json.dumps(step)
        raise TimeoutError


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, socket: FakeSocket) -> tuple[int, str]:
    monkeypatch.setattr(client, "connect", lambda *_, **__: socket)
    main = tmp_path / "main.py"
    main.write_text("import time\ntime.sleep(60)\n")
    err = io.StringIO()
    code = run_file("ws://fake", Program(main, "python"), io.StringIO(), err)
    return code, err.getvalue()


STATUS = {"type": "status", "executionId": "e1", "status": "running"}
CANCELLED = {"type": "completion", "executionId": "e1", "verdict": "cancelled"}


def test_a_ctrl_c_during_a_read_is_not_raised_in_it_and_stops_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    socket = FakeSocket([STATUS, ctrl_c, CANCELLED])
    code, err = run(monkeypatch, tmp_path, socket)
    assert socket.reads_finished == socket.reads_begun  # no read was cut short
    assert code == EXIT_INTERRUPTED
    assert [frame["type"] for frame in socket.sent] == ["execute_code", "stop"]
    assert socket.sent[1]["executionId"] == "e1"
    assert "coderunner: stopped: the platform ended e1 (cancelled)" in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_second_ctrl_c_stops_waiting_for_the_completion(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setattr(client, "STOP_WAIT_S", 60.0)  # the test would hang on a missed press
    socket = FakeSocket([STATUS, ctrl_c, ctrl_c])  # then reads that time out
    code, err = run(monkeypatch, tmp_path, socket)
    assert socket.reads_finished == socket.reads_begun
    assert code == EXIT_INTERRUPTED
    assert "coderunner: interrupted again; not waiting for e1 to end" in err


def test_a_sigint_the_cli_was_started_ignoring_stays_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a script's background job
    try:
        socket = FakeSocket([STATUS, ctrl_c, {**CANCELLED, "verdict": "ok", "exitCode": 0}])
        code, _ = run(monkeypatch, tmp_path, socket)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert code == 0  # the program ran to its end; no stop was sent
    assert [frame["type"] for frame in socket.sent] == ["execute_code"]

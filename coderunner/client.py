"""``coderunner run FILE``: submit a program over the browser socket and stream its output.

On a terminal a spinner on stderr says whether the run is queued or running until its first
output; Ctrl-C stops the run on the platform (a ``stop`` frame), waits for the platform's
completion and says so."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.status import Status
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from contracts.messages import ExecuteCode, Limits, SourceFile, StopExecution, encode

EXIT_NOT_OK = 1
EXIT_INTERRUPTED = 130
"""What a shell reports for a program Ctrl-C ended (128 + SIGINT)."""
STOP_WAIT_S = 10.0
"""How long Ctrl-C waits for the platform's completion after the ``stop`` (in all; output that
arrives meanwhile is not printed). A second Ctrl-C stops waiting."""
POLL_S = 0.2
"""How often the socket's reads look whether Ctrl-C was pressed."""


class CtrlC:
    """Ctrl-C presses counted while a run is followed, for the reading loop to look at between
    the socket's reads, instead of a ``KeyboardInterrupt`` raised wherever the CLI happens to
    be (inside the socket library's reads, its locks and its reader thread). Only in the main
    thread, where Python handles signals. A SIGINT the CLI was started ignoring (a background
    job of a script, ``nohup``) stays ignored, as Python leaves it."""

    def __init__(self) -> None:
        self.presses = 0
        self._before: Any = None

    def __enter__(self) -> CtrlC:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._before = signal.signal(signal.SIGINT, self._pressed)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)

    def _pressed(self, _signum: int, _frame: FrameType | None) -> None:
        self.presses += 1


class Interrupted(Exception):
    """Ctrl-C was pressed (more often than the reading loop was told to let pass)."""


def language_for(path: Path, runtimes: list[dict[str, Any]]) -> str | None:
    for runtime in runtimes:
        if path.suffix == runtime["extension"]:
            return str(runtime["name"])
    return None


@dataclass
class Program:
    """What ``coderunner run`` sends: the main file, more files, and how to run them."""

    main: Path
    language: str
    extra: list[Path] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    stdin: str = ""
    limits: Limits | None = None

    def frame(self) -> ExecuteCode:
        files = [SourceFile(p.name if p == self.main else str(p), p.read_text())
                 for p in [self.main, *self.extra]]
        return ExecuteCode(
            language=self.language, files=files, main_file=self.main.name, request_id="cli",
            stdin=self.stdin, args=self.args, limits=self.limits,
            network=False,  # one program, no console tabs to talk to
        )


class Progress:
    """The spinner on a terminal (nothing otherwise), until the program's first output."""

    def __init__(self, err: TextIO) -> None:
        self._status: Status | None = None
        if err.isatty():
            self._status = Console(file=err).status("submitting")
            self._status.start()

    def show(self, what: str) -> None:
        if self._status is not None:
            self._status.update(what)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def run_file(url: str, program: Program, out: TextIO = sys.stdout,
             err: TextIO = sys.stderr) -> int:
    """Run ``program`` and return its exit code (``EXIT_INTERRUPTED`` after Ctrl-C)."""
    progress = Progress(err)
    execution_id: str | None = None
    try:
        with connect(url, max_size=16 * 1024 * 1024) as ws, CtrlC() as ctrl_c:
            ws.send(encode(program.frame()).decode())
            try:
                for event in events(ws, ctrl_c):
                    match event.get("type"):
                        case "status":
                            execution_id = event["executionId"]
                            progress.show(f"{event['status']} ({program.language})")
                        case "output" | "table":
                            progress.stop()
                            write_output(event, out, err)
                        case "error":
                            progress.stop()
                            err.write(f"coderunner: {event['code']}: {event['message']}\n")
                            return EXIT_NOT_OK
                        case "completion":
                            progress.stop()
                            return exit_code_of(event, err)
            except Interrupted:
                progress.stop()
                return stopped(ws, execution_id, err, ctrl_c)
    finally:
        progress.stop()
    err.write("coderunner: the connection closed before the program completed\n")
    return EXIT_NOT_OK


def events(ws: ClientConnection, ctrl_c: CtrlC, presses_let_pass: int = 0,
           deadline: float | None = None) -> Iterator[dict[str, Any]]:
    """The server's frames as dicts, until the socket closes; ``Interrupted`` once Ctrl-C was
    pressed more than ``presses_let_pass`` times, ``TimeoutError`` when the
    ``time.monotonic()`` ``deadline`` passes."""
    while True:
        if ctrl_c.presses > presses_let_pass:
            raise Interrupted
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise TimeoutError
        try:
            raw = ws.recv(timeout=POLL_S if deadline is None else min(POLL_S, deadline - now))
        except TimeoutError:
            continue
        except ConnectionClosed:
            return
        yield json.loads(raw)


def write_output(event: dict[str, Any], out: TextIO, err: TextIO) -> None:
    if event["type"] == "table":
        out.write("\t".join(event["columns"]) + "\n")
        for row in event["rows"]:
            out.write("\t".join("NULL" if v is None else str(v) for v in row) + "\n")
        return
    stream = out if event["stream"] == "stdout" else err
    stream.write(event["data"])
    stream.flush()


def stopped(ws: ClientConnection, execution_id: str | None, err: TextIO, ctrl_c: CtrlC) -> int:
    """Ctrl-C: stop the run on the platform and report how it ended there (a second Ctrl-C
    stops waiting for that)."""
    if execution_id is None:  # not yet accepted: closing the socket is all there is to do
        err.write("coderunner: interrupted before the platform accepted the run\n")
        return EXIT_INTERRUPTED
    ws.send(encode(StopExecution(execution_id=execution_id)).decode())
    err.write(f"coderunner: stopping {execution_id} on the platform…\n")
    try:
        for event in events(ws, ctrl_c, ctrl_c.presses, time.monotonic() + STOP_WAIT_S):
            if event.get("type") == "completion":
                err.write(f"coderunner: stopped: the platform ended {execution_id} "
                          f"({event['verdict']})\n")
                return EXIT_INTERRUPTED
    except Interrupted:
        err.write(f"coderunner: interrupted again; not waiting for {execution_id} to end\n")
        return EXIT_INTERRUPTED
    except TimeoutError:
        pass
    err.write(f"coderunner: interrupted; no completion for {execution_id} came from the "
              f"platform within {STOP_WAIT_S:.0f} s\n")
    return EXIT_INTERRUPTED


def exit_code_of(completion: dict[str, Any], err: TextIO) -> int:
    verdict = completion["verdict"]
    if verdict not in ("ok", "runtime_error") or completion.get("exitCode") is None:
        detail = completion.get("message") or completion.get("signal") or ""
        err.write(f"coderunner: {verdict}{': ' + detail if detail else ''}\n")
    code = completion.get("exitCode")
    if code is None:
        return 0 if verdict == "ok" else EXIT_NOT_OK
    return int(code)

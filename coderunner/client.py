"""``coderunner run FILE``: submit a program over the browser socket and stream its output.

On a terminal a spinner on stderr says whether the run is queued or running until its first
output; Ctrl-C stops the run on the platform (a ``stop`` frame), waits for the platform's
completion and says so."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
arrives meanwhile is not printed)."""


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
        with connect(url, max_size=16 * 1024 * 1024) as ws:
            ws.send(encode(program.frame()).decode())
            try:
                for event in events(ws):
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
            except KeyboardInterrupt:
                progress.stop()
                return stopped(ws, execution_id, err)
    finally:
        progress.stop()
    err.write("coderunner: the connection closed before the program completed\n")
    return EXIT_NOT_OK


def events(ws: ClientConnection, deadline: float | None = None) -> Iterator[dict[str, Any]]:
    """The server's frames as dicts, until the socket closes (or the ``time.monotonic()``
    ``deadline`` passes: ``TimeoutError``)."""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            raw = ws.recv(timeout=timeout)
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


def stopped(ws: ClientConnection, execution_id: str | None, err: TextIO) -> int:
    """Ctrl-C: stop the run on the platform and report how it ended there."""
    if execution_id is None:  # not yet accepted: closing the socket is all there is to do
        err.write("coderunner: interrupted before the platform accepted the run\n")
        return EXIT_INTERRUPTED
    ws.send(encode(StopExecution(execution_id=execution_id)).decode())
    err.write(f"coderunner: stopping {execution_id} on the platform…\n")
    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        for event in events(ws, deadline=time.monotonic() + STOP_WAIT_S):
            if event.get("type") == "completion":
                err.write(f"coderunner: stopped: the platform ended {execution_id} "
                          f"({event['verdict']})\n")
                return EXIT_INTERRUPTED
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

"""``coderunner run FILE``: submit a program over the browser socket and stream its output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from websockets.sync.client import connect

from contracts.messages import ExecuteCode, SourceFile, encode

EXIT_NOT_OK = 1


def language_for(path: Path, runtimes: list[dict[str, Any]]) -> str | None:
    for runtime in runtimes:
        if path.suffix == runtime["extension"]:
            return str(runtime["name"])
    return None


def run_file(
    url: str,
    main: Path,
    language: str,
    extra: list[Path],
    args: list[str],
    stdin: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run ``main`` (and ``extra`` files) and return the program's exit code."""
    files = [SourceFile(p.name if p == main else str(p), p.read_text()) for p in [main, *extra]]
    frame = ExecuteCode(
        language=language, files=files, main_file=main.name, request_id="cli", stdin=stdin,
        args=args, network=False,  # one program, no console tabs to talk to
    )
    with connect(url, max_size=16 * 1024 * 1024) as ws:
        ws.send(encode(frame).decode())
        for raw in ws:
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "output":
                (out if event["stream"] == "stdout" else err).write(event["data"])
                (out if event["stream"] == "stdout" else err).flush()
            elif kind == "table":
                out.write("\t".join(event["columns"]) + "\n")
                for row in event["rows"]:
                    out.write("\t".join("NULL" if v is None else str(v) for v in row) + "\n")
            elif kind == "error":
                err.write(f"coderunner: {event['code']}: {event['message']}\n")
                return EXIT_NOT_OK
            elif kind == "completion":
                return exit_code_of(event, err)
    err.write("coderunner: the connection closed before the program completed\n")
    return EXIT_NOT_OK


def exit_code_of(completion: dict[str, Any], err: TextIO) -> int:
    verdict = completion["verdict"]
    if verdict not in ("ok", "runtime_error") or completion.get("exitCode") is None:
        detail = completion.get("message") or completion.get("signal") or ""
        err.write(f"coderunner: {verdict}{': ' + detail if detail else ''}\n")
    code = completion.get("exitCode")
    if code is None:
        return 0 if verdict == "ok" else EXIT_NOT_OK
    return int(code)

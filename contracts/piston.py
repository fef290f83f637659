"""Piston v2's wire types, served by the edge under ``/api/v2`` (docs/compat.md).

Requests are decoded loosely (Piston is JavaScript: a wrong type is a 400 with a message, not a
decoding error) and checked by ``edge/piston_rules.py``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import Struct

StageStatus = Literal["RE", "SG", "TO", "OL", "EL", "XX"]
StageName = Literal["compile", "run"]
SIGNALS: tuple[str, ...] = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
)
"""The signals Piston's ``signal`` frame names (its globals.js, without the real-time ones)."""


class File(Struct, frozen=True):
    name: Any = None
    content: Any = None
    encoding: Any = None


class ExecuteRequest(Struct, frozen=True):
    """``POST /api/v2/execute`` and the WebSocket's ``init`` (with ``type``)."""

    language: Any = None
    version: Any = None
    files: Any = None
    stdin: Any = None
    args: Any = None
    compile_timeout: Any = None
    run_timeout: Any = None
    compile_cpu_time: Any = None
    run_cpu_time: Any = None
    compile_memory_limit: Any = None
    run_memory_limit: Any = None
    type: Any = None


class Frame(Struct, frozen=True):
    """A client frame on ``/api/v2/connect``: ``init``, ``data`` or ``signal``."""

    type: Any = None
    stream: Any = None
    data: Any = None
    signal: Any = None


class Stage(Struct, frozen=True):
    stdout: str
    stderr: str
    output: str
    code: int | None
    signal: str | None
    message: str | None
    status: StageStatus | None
    cpu_time: int | None
    wall_time: int | None
    memory: int | None
    """Bytes."""


class ExecuteResult(Struct, frozen=True, omit_defaults=True):
    language: str
    version: str
    run: Stage
    compile: Stage | None = None


class RuntimeEntry(Struct, frozen=True):
    """``GET /api/v2/runtimes``."""

    language: str
    version: str
    aliases: list[str]


execute_request_decoder = msgspec.json.Decoder(ExecuteRequest)
frame_decoder = msgspec.json.Decoder(Frame)

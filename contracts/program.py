"""What a program is on the wire, whoever sends it: its files, its main file, its limits, the
ids and names it carries, and the checks a type cannot make (``program_problem``).

A leaf under every other contract: contracts/messages.py (jobs, frames, events) and
contracts/judging.py (judgements) both build on it, so neither imports the other's way back.
Wire rules as in contracts/messages.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from msgspec import Meta, Struct

MAX_FILES = 100
MAX_FILE_BYTES = 1_048_576
MAX_TOTAL_BYTES = 4 * 1_048_576
MAX_STDIN_BYTES = 1_048_576
STDIN_WINDOW_BYTES = 4 * 1_048_576
"""Input an execution may have waiting for its program to read (bytes sent with ``stdin`` that
the program has not taken yet); a ``stdin`` frame past it is refused, never buffered."""
MAX_ARGS = 64
MAX_LIMIT = 2**31 - 1
MIN_MEMORY_MB = 16
"""The smallest memory limit a run may ask for."""
"""The largest limit a request may ask for (each is clamped to the server's maxima)."""

Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Language = Annotated[str, Meta(min_length=1, max_length=32)]
NO_CONTROL = r"^[^\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\ufeff]+$"
"""No NUL or other control character, and no bidirectional override (a name that reads
otherwise than it is) nor byte order mark."""
NO_NUL = r"^[^\x00]*$"
"""A process's argv and environment cannot hold NUL: the kernel ends each string at one."""
FileName = Annotated[str, Meta(min_length=1, max_length=255, pattern=NO_CONTROL)]
FileContent = Annotated[str, Meta(max_length=MAX_FILE_BYTES)]
Arg = Annotated[str, Meta(max_length=4096, pattern=NO_NUL)]
NotebookId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
"""A notebook's or a cell's id, chosen by the client; also a NATS subject token."""
CellCode = Annotated[str, Meta(max_length=MAX_FILE_BYTES)]
StdinData = Annotated[str, Meta(max_length=MAX_STDIN_BYTES)]



class _Carried(Struct, frozen=True, rename="camel"):
    """Base of what components pass each other: unknown fields (a newer version's) are ignored."""


class JobFile(_Carried, frozen=True):
    """One file of a program: a relative path inside the workspace and its text."""

    name: FileName
    content: FileContent


class SourceFile(JobFile, frozen=True, forbid_unknown_fields=True):
    """A ``JobFile`` as a client sends it: unknown fields are an error."""


class JobLimits(_Carried, frozen=True, omit_defaults=True):
    """Requested limits; each is clamped to the server's maxima, unset ones take defaults."""

    wall_ms: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    cpu_ms: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    memory_mb: Annotated[int, Meta(ge=MIN_MEMORY_MB, le=MAX_LIMIT)] | None = None
    output_kb: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    processes: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    cpu_extra_ms: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    """CPU time past ``cpu_ms`` before the program is killed; past ``cpu_ms`` the verdict is
    ``time_limit`` all the same (Judge0's ``cpu_extra_time``)."""
    stack_kb: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    """The run's stack (RLIMIT_STACK of each process), at most the sandbox's 64 MiB."""
    file_size_kb: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    """The largest file the run may write (RLIMIT_FSIZE: past it, SIGXFSZ), at most 64 MiB."""
    process_memory_kb: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    """Each process's address space (RLIMIT_AS), beside the run's ``memory_mb`` for all."""
    compile_wall_ms: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    """The compile step's own wall and CPU limits (else the run's) and address space."""
    compile_cpu_ms: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None
    compile_process_memory_kb: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] | None = None


class Limits(JobLimits, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """``JobLimits`` as a client sends them: unknown fields are an error."""


def file_name_problem(name: str) -> str | None:
    """Why a file name from a request is unacceptable, or None: relative, no ``..``, no NUL."""
    if "\x00" in name:
        return "must not contain NUL"
    if name.startswith("/") or "\\" in name:
        return "must be a relative path with forward slashes"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "must not contain empty, '.' or '..' segments"
    if any(ord(ch) < 32 for ch in name):
        return "must not contain control characters"
    return None


def program_problem(files: Sequence[JobFile], main_file: str) -> str | None:
    """Why a set of files cannot be run, or None."""
    seen: set[str] = set()
    total = 0
    for entry in files:
        problem = file_name_problem(entry.name)
        if problem:
            return f"file name {entry.name!r} {problem}"
        if entry.name in seen:
            return f"file name {entry.name!r} appears twice"
        if any(entry.name.startswith(other + "/") or other.startswith(entry.name + "/")
               for other in seen):
            return f"file name {entry.name!r} is both a file and a folder"
        seen.add(entry.name)
        total += len(entry.content)
    if total > MAX_TOTAL_BYTES:
        return f"files total {total} bytes; the limit is {MAX_TOTAL_BYTES}"
    if main_file not in seen:
        return f"mainFile {main_file!r} is not among the files"
    return None

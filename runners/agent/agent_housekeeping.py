"""The sandbox's own housekeeping: writing a program's files, killing and reaping
leftover processes."""

from __future__ import annotations

import os
import resource
import signal
import time

from agent_protocol import WORKSPACE, Message


def name_problem(name: str) -> str | None:
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        return "must be a relative path without NUL or backslash"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "must not contain empty, '.' or '..' segments"
    return None


def write_files(files: list[Message]) -> None:
    for entry in files:
        name = entry["name"]
        problem = name_problem(name)
        if problem:
            raise ValueError(f"file name {name!r} {problem}")
        parent = os.path.dirname(name)
        if parent:
            os.makedirs(os.path.join(WORKSPACE, parent), mode=0o755, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(os.path.join(WORKSPACE, name), flags, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(entry["content"].encode())


def kill_user_processes(platform: set[int]) -> list[int]:
    """SIGKILL every process but the platform's, all at once; returns the pids signalled.

    One ``kill(-1, SIGSTOP)`` stops every other process in the container in a single walk of
    the kernel's task list, during which no fork can complete (a fork racing it fails), so a
    fork bomb, threads, ``setsid`` or stopped children cannot slip through; each stopped
    process is then killed, and the platform's own (the zygote) continued. The agent holds
    CAP_KILL for this: user code runs as another uid.
    """
    try:
        os.kill(-1, signal.SIGSTOP)
    except ProcessLookupError:
        return []
    others = [pid for pid in process_ids() if pid not in platform]
    for pid in others:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in platform - {os.getpid()}:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    return others


KILL_PATIENCE_S = 5.0
"""How long killed processes get to be gone. A sweep count (100, about 0.1-0.5 s) was too short
for a javac server whose threads a program had pinned to one CPU and reniced to 19: on a loaded
machine it was still tearing down, and the reset failed ("processes still alive")."""


def kill_until_none(platform: set[int]) -> int:
    """Kill and reap until no process but the platform's is left (zombies included), for
    ``KILL_PATIENCE_S`` at most; returns the most user processes one sweep found."""
    most = 0
    deadline = time.monotonic() + KILL_PATIENCE_S
    while True:
        others = kill_user_processes(platform)
        most = max(most, len(others))
        reap(spare=None)
        if not others or time.monotonic() >= deadline:
            break
        time.sleep(0.001)
    return most


def wait_for(pid: int) -> tuple[int, int, resource.struct_rusage]:
    """wait4 for a step; a zygote's program may still be on its way to being our child."""
    for _ in range(2000):
        try:
            return os.wait4(pid, 0)
        except ChildProcessError:
            time.sleep(0.0005)
    return os.wait4(pid, 0)


def process_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def reap(spare: int | None = None) -> None:
    """Reap exited orphans (the agent is the container's PID 1), leaving ``spare`` to its owner."""
    while True:
        try:
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if found is None or found.si_pid == spare:
            return
        os.waitpid(found.si_pid, 0)

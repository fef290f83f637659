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


def kill_until_none(platform: set[int]) -> int:
    """Kill and reap until no process but the platform's is left (zombies included); returns
    the most user processes one sweep found."""
    most = 0
    for _ in range(100):
        others = kill_user_processes(platform)
        most = max(most, len(others))
        reap(spare=None)
        if not others:
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

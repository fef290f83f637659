"""The sandbox's own housekeeping: writing a program's files, wiping, killing and reaping
leftover processes, and reading the cgroup's OOM counter."""

from __future__ import annotations

import os
import resource
import signal
import stat
import time

from agent_protocol import WORKSPACE

OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")


def oom_kills() -> int:
    for path in OOM_FILES:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


def name_problem(name: str) -> str | None:
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        return "must be a relative path without NUL or backslash"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "must not contain empty, '.' or '..' segments"
    return None


def write_files(files: list[dict]) -> None:
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


def wipe(directory: str) -> None:
    """Remove everything under directory without following links (user code may plant them)."""
    for root, dirs, _files in os.walk(directory):
        for d in dirs:
            path = os.path.join(root, d)
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, 0o700)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if stat.S_ISDIR(os.lstat(path).st_mode):
            for root, dirs, files in os.walk(path, topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for d in dirs:
                    sub = os.path.join(root, d)
                    if stat.S_ISLNK(os.lstat(sub).st_mode):
                        os.unlink(sub)
                    else:
                        os.rmdir(sub)
            os.rmdir(path)
        else:
            os.unlink(path)


def kill_leftovers(spare: int | None = None) -> None:
    """SIGKILL every process but the agent (and ``spare``, the zygote), then reap.

    With a process to spare, everything is first frozen with SIGSTOP so that nothing can fork
    while the survivors are looked up and killed one by one.
    """
    for _ in range(20):
        try:
            os.kill(-1, signal.SIGKILL if spare is None else signal.SIGSTOP)
        except ProcessLookupError:
            break
        others = [pid for pid in process_ids() if pid not in (os.getpid(), spare)]
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if spare is not None:
            os.kill(spare, signal.SIGCONT)
        reap(spare)
        if not others and spare is not None:
            break
        time.sleep(0.001)
    reap(spare)


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

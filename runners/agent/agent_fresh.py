"""What a fresh sandbox looks like, recorded by the agent when it starts, and the reset's work:
put a used sandbox back in that state and check it, so that a sandbox is reused only when it
is proven to be like a fresh one.

Recorded at start: every writable mount in /proc/self/mountinfo (/workspace, /tmp, /dev/shm,
/dev/mqueue, /dev, and any other) with what it holds (names, types, modes, owners, sizes);
the agent's environment and working directory; the resource limits, niceness and scheduling
policy of the platform's processes. Checked after each reset: no process but the platform's,
every writable mount holding exactly what it held, no System V IPC object, the environment,
working directory, limits and scheduling unchanged. Anything else is a problem, and a
sandbox with a problem is not reused.
"""

from __future__ import annotations

import os
import resource
import stat
from dataclasses import dataclass, field

import agent_ipc
from agent_users import as_sandbox_user

PSEUDO_FILESYSTEMS = ("proc", "sysfs", "cgroup", "cgroup2")
"""Writable in the mount table, but not storage: nothing user code could leave there."""
LIMITS = [getattr(resource, name) for name in sorted(dir(resource)) if name.startswith("RLIMIT_")]
Entry = tuple[int, int, int, int]
"""(st_mode, uid, gid, size of a regular file) of one path."""


def writable_mounts() -> list[str]:
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if "rw" in fields[5].split(",") and fstype not in PSEUDO_FILESYSTEMS:
                mounts.append(fields[4].encode().decode("unicode_escape"))
    return sorted(set(mounts))


def entry(info: os.stat_result) -> Entry:
    size = info.st_size if stat.S_ISREG(info.st_mode) else 0
    return (info.st_mode, info.st_uid, info.st_gid, size)


def contents(mount: str) -> dict[str, Entry]:
    """Every path under a mount (the mount itself as "."), not crossing into other mounts."""
    top = os.lstat(mount)
    found = {".": entry(top)}
    if not stat.S_ISDIR(top.st_mode):
        return found
    for root, dirs, files in os.walk(mount):
        for name in [*dirs, *files]:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if info.st_dev != top.st_dev:
                if name in dirs:
                    dirs.remove(name)  # another mount: recorded on its own
                continue
            found[os.path.relpath(path, mount)] = entry(info)
    return found


def open_up(mount: str, fresh: dict[str, Entry]) -> None:
    """Give the owner (the sandbox user) access to every directory it made, even mode 000."""
    for root, dirs, _files in os.walk(mount):
        for name in dirs:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, mount)
            try:
                if relative not in fresh and stat.S_ISDIR(os.lstat(path).st_mode):
                    os.chmod(path, 0o700)
            except OSError:
                pass


def restore(mount: str, fresh: dict[str, Entry]) -> None:
    """Remove what a fresh sandbox did not hold and put back the modes it changed, without
    following a link (user code may plant them); run as the sandbox user, so that nothing but
    what user code could itself change is touched."""
    open_up(mount, fresh)
    now = contents(mount)
    for relative in sorted(now, key=lambda p: p.count("/"), reverse=True):
        path = os.path.normpath(os.path.join(mount, relative))
        try:
            if relative not in fresh:
                if stat.S_ISDIR(now[relative][0]):
                    os.rmdir(path)
                else:
                    os.unlink(path)
            elif now[relative][0] != fresh[relative][0]:
                os.chmod(path, stat.S_IMODE(fresh[relative][0]), follow_symlinks=False)
        except OSError:
            pass  # the check reports what is left


def process_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


@dataclass
class ProcessState:
    """What user code must not be able to change about a platform process."""

    limits: dict[int, tuple[int, int]]
    nice: int
    policy: int

    @classmethod
    def of(cls, pid: int) -> ProcessState:
        return cls({r: resource.prlimit(pid, r) for r in LIMITS},
                   os.getpriority(os.PRIO_PROCESS, pid), os.sched_getscheduler(pid))

    def put_back(self, pid: int) -> None:
        """Best effort; the check that follows says whether it worked."""
        for limit, value in self.limits.items():
            try:
                if resource.prlimit(pid, limit) != value:
                    resource.prlimit(pid, limit, value)
            except (OSError, ValueError):
                pass
        try:
            if os.sched_getscheduler(pid) != self.policy:
                os.sched_setscheduler(pid, self.policy, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, pid, self.nice)
        except OSError:
            pass


def describe_process(pid: int) -> str:
    """What /proc says of a process that outlived the reset, for the reset's error: its name,
    state, parent and thread count (a zombie whose threads are still exiting, say)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            name, rest = f.read().split(" (", 1)[1].rsplit(") ", 1)
        fields = rest.split()  # from stat's 3rd field: state, parent, ...; threads its 20th
        return f"{pid}: {name}, state {fields[0]}, parent {fields[1]}, {fields[17]} threads"
    except (OSError, IndexError, ValueError):
        return f"{pid}: gone"


@dataclass
class FreshState:
    mounts: dict[str, dict[str, Entry]]
    environment: dict[str, str]
    cwd: str
    platform: dict[int, ProcessState] = field(default_factory=dict)
    """Each platform process (the agent, the zygote) as it was when started."""

    @classmethod
    def record(cls) -> FreshState:
        state = cls({m: contents(m) for m in writable_mounts()}, dict(os.environ), os.getcwd())
        state.add_platform_process(os.getpid())
        return state

    def add_platform_process(self, pid: int) -> None:
        self.platform[pid] = ProcessState.of(pid)

    def drop_platform_process(self, pid: int) -> None:
        self.platform.pop(pid, None)

    def clean(self) -> None:
        """Remove what user code left (its processes must be gone already)."""
        for pid, state in self.platform.items():
            state.put_back(pid)
        with as_sandbox_user():
            agent_ipc.remove_all()
            for mount, fresh in self.mounts.items():
                restore(mount, fresh)

    def problems(self, helpers: set[int] | None = None) -> list[str]:
        """What is not as in a fresh sandbox; ``helpers``: processes of the user's that may stay
        (a sealed compile server, agent_compile_server.py)."""
        found = []
        others = sorted(set(process_ids()) - set(self.platform) - (helpers or set()))
        if others:
            details = ", ".join(describe_process(pid) for pid in others[:5])
            found.append(f"processes still alive: {others} ({details})")
        for pid, state in self.platform.items():
            try:
                if ProcessState.of(pid) != state:
                    found.append(f"limits or scheduling of platform process {pid} changed")
            except OSError:
                found.append(f"platform process {pid} is gone")
        if writable_mounts() != sorted(self.mounts):
            found.append(f"writable mounts changed: {writable_mounts()}")
        for mount, fresh in self.mounts.items():
            now = contents(mount)
            if now != fresh:
                extra = sorted(set(now) - set(fresh))[:5]
                found.append(f"{mount} is not as fresh: {extra or 'modes or sizes changed'}")
        found += agent_ipc.leftovers()
        if dict(os.environ) != self.environment or os.getcwd() != self.cwd:
            found.append("the agent's environment or working directory changed")
        return found

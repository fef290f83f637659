"""Who runs as whom inside a sandbox.

The platform's processes (the agent, PID 1, and the Python zygote) run as container root
holding only the capabilities the runner grants (SETUID, SETGID, KILL; ``--cap-drop ALL``
otherwise, ``no-new-privileges``, the default seccomp profile). Everything that runs user code
(compile and run steps, the zygote's programs, compile servers, notebook kernels) is started
after ``setgroups([])``, ``setresgid`` and ``setresuid`` to ``SANDBOX_UID``: all three ids
change, so the kernel clears every capability, and the process can neither signal, ptrace,
``prlimit``, renice nor reschedule a platform process (each needs the same uid, or a capability
it lacks). Per-process limits (CPU seconds; a step's stack, file size and address space;
niceness) are set by the child itself before it execs, never on another uid from outside.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Callable, Iterator

from agent_protocol import USER_NICE, WORKSPACE

SANDBOX_UID = 10001
SANDBOX_GID = 10001


@contextlib.contextmanager
def as_sandbox_user() -> Iterator[None]:
    """Touch files and IPC objects with the sandbox user's effective ids (so with its rights
    and no capability), then take root's back.

    Used only while no user process is alive (writing a run's files into a fresh or reset
    sandbox, the reset's clean-up): the real and saved ids stay 0 throughout, and nothing of
    the user's exists to act on the agent while its effective id is the user's. (A sealed
    compile server may be up then: it runs as the user but no user code, between requests it
    only waits for the next, and a signal or trace of it could not reach the agent anyway, whose
    real and saved ids stay 0 and which is not dumpable.)
    """
    os.setresgid(-1, SANDBOX_GID, -1)
    os.setresuid(-1, SANDBOX_UID, -1)
    try:
        yield
    finally:
        os.setresuid(-1, 0, -1)  # effective 0 again: the permitted capabilities come back
        os.setresgid(-1, 0, -1)


Rlimit = tuple[int, int, int]
"""A kernel limit a step's process sets on itself: the ``resource.RLIMIT_*`` number, soft, hard."""
STEP_RLIMITS = {"stackBytes": resource.RLIMIT_STACK, "fileSizeBytes": resource.RLIMIT_FSIZE,
                "addressSpaceBytes": resource.RLIMIT_AS}
"""A step's optional per-process limits (its spec's keys); 0 or absent: the sandbox's own."""


def step_rlimits(spec: dict[str, object], cpu_seconds: int) -> list[Rlimit]:
    """The limits a step's process sets on itself: CPU seconds (SIGXCPU at ``cpu_seconds``, a
    second later SIGKILL), and the spec's stack, file size and address space, each in bytes."""
    found = [(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)]
    for key, which in STEP_RLIMITS.items():
        value = spec.get(key)
        if isinstance(value, int) and value > 0:
            found.append((which, value, value))
    return found


def set_rlimits(limits: list[Rlimit]) -> None:
    """Lower the calling process's limits; never above the sandbox's hard limit (the container
    sets it, and without CAP_SYS_RESOURCE a raise would fail the start)."""
    for which, soft, hard in limits:
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))


def become_sandbox_user(limits: list[Rlimit] | None = None) -> None:
    """In a freshly forked child, before it runs anything of the user's: its own limits and
    niceness first, then every id to the sandbox user (which clears all capabilities), then
    into the workspace."""
    set_rlimits(limits or [])
    os.setpriority(os.PRIO_PROCESS, 0, USER_NICE)
    os.setgroups([])
    os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.chdir(WORKSPACE)  # only the sandbox user may enter it (mode 0700)


def as_user(limits: list[Rlimit] | None = None) -> Callable[[], None]:
    """The ``preexec_fn`` for ``subprocess.Popen`` that starts a process as the sandbox user."""
    return lambda: become_sandbox_user(limits)

"""Who runs as whom inside a sandbox.

The platform's processes (the agent, PID 1, and the Python zygote) run as container root
holding only the capabilities the runner grants (SETUID, SETGID, KILL; ``--cap-drop ALL``
otherwise, ``no-new-privileges``, the default seccomp profile). Everything that runs user code
(compile and run steps, the zygote's programs, compile servers, notebook kernels) is started
after ``setgroups([])``, ``setresgid`` and ``setresuid`` to ``SANDBOX_UID``: all three ids
change, so the kernel clears every capability, and the process can neither signal, ptrace,
``prlimit``, renice nor reschedule a platform process (each needs the same uid, or a capability
it lacks). Per-process limits (CPU seconds, niceness) are set by the child itself before it
execs, never on another uid from outside.
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
    the user's exists to act on the agent while its effective id is the user's.
    """
    os.setresgid(-1, SANDBOX_GID, -1)
    os.setresuid(-1, SANDBOX_UID, -1)
    try:
        yield
    finally:
        os.setresuid(-1, 0, -1)  # effective 0 again: the permitted capabilities come back
        os.setresgid(-1, 0, -1)


def become_sandbox_user(cpu_seconds: int | None = None) -> None:
    """In a freshly forked child, before it runs anything of the user's: its own limits and
    niceness first, then every id to the sandbox user (which clears all capabilities), then
    into the workspace."""
    if cpu_seconds is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    os.setpriority(os.PRIO_PROCESS, 0, USER_NICE)
    os.setgroups([])
    os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.chdir(WORKSPACE)  # only the sandbox user may enter it (mode 0700)


def as_user(cpu_seconds: int | None = None) -> Callable[[], None]:
    """The ``preexec_fn`` for ``subprocess.Popen`` that starts a process as the sandbox user."""
    return lambda: become_sandbox_user(cpu_seconds)

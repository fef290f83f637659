"""What every agent module shares: the sandbox's paths, tuning constants, and ``emit``.

The agent speaks JSON lines (agent.py lists every command and event); it builds and reads them
as plain dicts (``Message``), being standard-library only. The runner's typed side of the same
protocol is runners/agent_messages.py, and a test decodes what this agent emits into it.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

WORKSPACE = "/workspace"
FLUSH_BYTES = 16384
FLUSH_SECONDS = 0.005
READ_BYTES = 65536
DRAIN_SECONDS = 0.2
ZYGOTE_WAIT_S = 2.0
USER_NICE = 10
"""Everything that runs the user's code (programs, compilers, kernels) runs at this niceness,
below the agent's 0: a fork bomb or a CPU spin in the container cannot starve the agent that
must report and kill it (niceness weighs tasks within the container's cgroup only; against
other containers the cgroup's share counts). Each such process sets it on itself before it
drops to the sandbox user, who cannot lower it again nor change the agent's."""

Message = dict[str, Any]
"""A command the agent reads, an event it emits, or a line of the kernel bridge: a JSON
object."""


def signal_name(number: int) -> str:
    """A signal's name as events carry it: ``SIGSEGV``, and ``SIGRTMIN+n`` for the real-time
    signals between the first and the last, which ``signal.Signals`` does not name (a program
    may well die of one)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if number > signal.SIGRTMIN:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return f"SIG{number}"


def emit(event: Message) -> None:
    """Send one event to the runner: strict JSON (no ``NaN``), UTF-8 as is. ``ValueError`` for
    an event that has no such form (a ``NaN`` or a lone surrogate in what a user's kernel or
    tables pipe wrote): whoever relays user data drops it."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    data = (text + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]

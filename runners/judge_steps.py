"""One agent run of a judgement (a compile, a test, a check), its output gathered, bounded.

A judgement runs many short runs in sandboxes it keeps for its whole length, so it talks to the
agent directly: no events go to clients from here (the judge publishes each test's result), and
what the sandbox prints is never trusted: each stream is kept up to a bound, the rest dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from contracts.messages import Verdict
from runners import agent_messages as agent
from runners.execution import HARD_END_GRACE_S, WATCH_TICK_S, verdict_of
from runners.sandbox import Sandbox


class StepOverran(Exception):
    """The agent did not end the run within the grace after its wall limit: the sandbox must
    be taken away (frozen, removed)."""


@dataclass(frozen=True)
class StepEnd:
    """How a run ended, and what it printed (each stream cut at the bound it was run with)."""

    verdict: Verdict
    done: agent.Done
    stdout: str
    stderr: str

    @property
    def wall_ms(self) -> int:
        return self.done.wall_ms or 0


class _Collected:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def add(self, data: str) -> None:
        room = self.limit - self.size
        if room > 0:
            kept = data[:room]
            self.parts.append(kept)
            self.size += len(kept)

    def text(self) -> str:
        return "".join(self.parts)


async def run_once(sandbox: Sandbox, command: agent.Run, wall_ms: int, keep_bytes: int,
                   sent: Callable[[], None] | None = None,
                   cpu_limit_ms: int | None = None) -> StepEnd:
    """Send ``command`` (one step, of wall limit ``wall_ms``) and wait for its end. Raises
    StepOverran when the agent does not end it within the grace, AgentGone when the agent is
    gone. ``sent`` is called once the agent has the command (a stop may follow it then)."""
    started = time.monotonic()
    hard_end = started + wall_ms / 1000 + HARD_END_GRACE_S
    await sandbox.link.send(command, timeout=hard_end - started)
    if sent is not None:
        sent()
    out, err = _Collected(keep_bytes), _Collected(keep_bytes)
    while True:
        now = time.monotonic()
        if now >= hard_end:
            raise StepOverran(f"sandbox {sandbox.short_id} did not end a run in time")
        match await sandbox.link.event_within(min(hard_end - now, WATCH_TICK_S)):
            case agent.Output(stream="stdout", data=data):
                out.add(data)
            case agent.Output(data=data):
                err.add(data)
            case agent.Done() as done:
                # CPU past the run's limit is time_limit, also inside cpuExtraMs (execution.py)
                return StepEnd(verdict_of(done, cpu_limit_ms), done, out.text(), err.text())
            case _:  # nothing within the tick, a table, an ack: no part in a judgement
                pass

"""How many unfinished runs one browser session, and one client address, may have on this edge.

Without a cap one socket could fill every slot and the whole queue (so that every other client
is refused ``queue_full``). A run counts from its acceptance until its completion reaches the
edge (every edge sees every completion), whichever socket of the session is open by then; a run
whose completion never came is forgotten after ``FORGET_AFTER_S``. Each edge counts what it
accepted: a client spread over several edges gets the caps on each. Across owners the
dispatcher shares the slots fairly (dispatcher/service.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

FORGET_AFTER_S = 900.0
"""Longer than any run waits and runs (QUEUE_TIMEOUT and MAX_WALL_MS, by default 1 + 5 min)."""


@dataclass(frozen=True)
class Run:
    session: str
    address: str
    at: float


class OpenRuns:
    def __init__(self, per_session: int, per_address: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_session = per_session
        self.per_address = per_address
        self.clock = clock
        self._runs: dict[str, Run] = {}
        self._sessions: Counter[str] = Counter()
        self._addresses: Counter[str] = Counter()

    def admit(self, execution_id: str, session: str, address: str) -> str | None:
        """Count a run of ``session`` from ``address``; or why it is refused (its session or
        its address has too many unfinished runs)."""
        self._forget_stale()
        if self._sessions[session] >= self.per_session:
            return (f"this session has {self.per_session} executions unfinished "
                    "(SESSION_MAX_UNFINISHED); wait for one to complete")
        if address and self._addresses[address] >= self.per_address:
            return (f"this client address has {self.per_address} executions unfinished "
                    "(ADDRESS_MAX_UNFINISHED); wait for one to complete")
        self._runs[execution_id] = Run(session, address, self.clock())
        self._sessions[session] += 1
        self._addresses[address] += 1
        return None

    def done(self, execution_id: str) -> None:
        """A run completed (or was not submitted after all)."""
        run = self._runs.pop(execution_id, None)
        if run is None:
            return
        for counter, key in ((self._sessions, run.session), (self._addresses, run.address)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

    def unfinished(self, session: str) -> int:
        return self._sessions[session]

    def _forget_stale(self) -> None:
        now = self.clock()
        # Runs are kept in the order they were admitted: the stale ones come first.
        stale = []
        for execution_id, run in self._runs.items():
            if now - run.at <= FORGET_AFTER_S:
                break
            stale.append(execution_id)
        for execution_id in stale:
            self.done(execution_id)

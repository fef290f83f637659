"""The version of each language that live runners report, read at most every few seconds
(listing the runners bucket costs a round of NATS requests; heartbeats come every 3 s)."""

from __future__ import annotations

import time

from contracts.runtimes import build_command
from edge.bus import EdgeBus

FRESH_S = 5.0


class RunnerVersions:
    def __init__(self, bus: EdgeBus, fresh_s: float = FRESH_S) -> None:
        self.bus = bus
        self.fresh_s = fresh_s
        self._read_at = -fresh_s
        self._versions: dict[str, str] = {}

    async def get(self) -> dict[str, str]:
        """Language name → version, for the languages some live runner serves."""
        now = time.monotonic()
        if now - self._read_at >= self.fresh_s or not self._versions:
            versions: dict[str, str] = {}
            for runner in await self.bus.runners.alive():
                versions.update(runner.versions)
            self._versions, self._read_at = versions, now
        return self._versions

    async def not_built(self, language: str) -> str | None:
        """Why a program of this catalog language is refused now: live runners serve other
        languages, none this one (its image is not built on any), said with how to build it;
        None when one serves it, or none is alive (a platform starting: the job waits). No
        runner builds an image on a request (docs/runtimes.md, Building on first use)."""
        served = await self.get()
        if not served or language in served:
            return None
        return (f"{language} is not built on this installation: its operator builds it with "
                f"`{build_command(language)}` (a few minutes), and runners serve it from then "
                "on, without a restart")

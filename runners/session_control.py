"""Session control on a runner: what it holds for one owner (kept sandboxes, the session's
network and database, notebook kernels), and a reset that removes it all, so that the owner's
next run starts in new sandboxes, on a new network, with an empty database, and its notebooks
in new kernels (contracts/session_control.py)."""

from __future__ import annotations

from contracts.messages import Isolation
from contracts.session_control import KeptSandbox, SessionCommand, SessionResources
from runners.notebooks import Kernels
from runners.pool import ReuseSlots
from runners.sandbox import Sandbox
from runners.sessions import Session, Sessions


class SessionControl:
    def __init__(self, runner_id: str, sessions: Sessions, reuse: ReuseSlots,
                 kernels: dict[Isolation, Kernels]) -> None:
        self.runner_id = runner_id
        self.sessions = sessions
        self.reuse = reuse
        self.kernels = kernels
        """The runner's notebook kernels by isolation (it may add one later)."""

    async def handle(self, command: SessionCommand) -> SessionResources:
        match command.action:
            case "resources":
                return await self.resources(command.owner)
            case "reset":
                return await self.reset(command.owner)

    async def resources(self, owner: str) -> SessionResources:
        session = self.sessions.held(owner)
        database_kb = None
        if session is not None and session.database is not None:
            database_kb = await self.sessions.docker.database_kb(session.database)
        kernels = sum(len(k.owned(owner)) for k in self.kernels.values())
        return self._view(await self.reuse.settled(owner), session, database_kb, kernels)

    async def reset(self, owner: str) -> SessionResources:
        """Close the owner's notebook kernels, remove its kept sandboxes (once a reset under
        way is done), then its database and network; answers what was removed."""
        kernels = sum([await k.close_owned(owner) for k in list(self.kernels.values())])
        kept = await self.reuse.drop_owner(owner)
        session = await self.sessions.drop(owner)
        return self._view(kept, session, None, kernels)

    def _view(self, kept: list[tuple[str, Sandbox]], session: Session | None,
              database_kb: int | None, kernels: int) -> SessionResources:
        return SessionResources(
            self.runner_id,
            [KeptSandbox(slot, s.language, s.isolation, s.network is not None)
             for slot, s in sorted(kept, key=lambda pair: pair[0])],
            network=session.network if session else None,
            database=bool(session and session.database),
            database_kb=database_kb,
            kernels=kernels,
        )

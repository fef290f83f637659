"""Session control (docs/workspaces.md#session-control): what the edge asks of every runner
about one owner's session, and what each answers. An owner's session is what the platform
keeps for it between runs: its kept sandboxes (one per console tab, or per API key and
language), its private network, its MySQL database and its notebook kernels.

Wire rules as in contracts/messages.py."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

SessionAction = Literal["resources", "reset"]
"""``resources``: what the runner holds for the owner. ``reset``: remove it all (kept
sandboxes, the database with its data, the network); the next run makes them anew, empty."""


class SessionCommand(Struct, frozen=True, rename="camel"):
    owner: str
    action: SessionAction


class KeptSandbox(Struct, frozen=True, rename="camel"):
    """An idle sandbox kept for the owner's next run in one slot (a console tab's main file,
    or ``api:<language>``)."""

    slot: str
    language: str
    isolation: str
    networked: bool


class SessionResources(Struct, frozen=True, rename="camel", omit_defaults=True):
    """One runner's answer: what it holds for the owner (before a reset: what it removed)."""

    runner_id: str
    sandboxes: list[KeptSandbox] = []
    network: str | None = None
    database: bool = False
    database_kb: int | None = None
    """The database's data on disk, when it runs."""
    kernels: int = 0
    """Notebook kernels of the owner on this runner."""


SessionFrameAction = Literal["list", "stop_all", "reset", "resources"]


class SessionControlFrame(Struct, frozen=True, rename="camel", forbid_unknown_fields=True,
                          tag="session_control", tag_field="type"):
    """Socket frame: ``list`` the session's running and recent executions, ``stop_all`` of
    them, ``reset`` the session (stop all, then remove its sandboxes, network and database),
    or show its ``resources``. Answered by a ``session_state`` event."""

    action: SessionFrameAction
    request_id: Annotated[str, Meta(min_length=1, max_length=64,
                                    pattern=r"^[A-Za-z0-9_.:-]+$")] | None = None


class SessionExecution(Struct, frozen=True, rename="camel"):
    execution_id: str
    status: Literal["queued", "running"]


class SessionState(Struct, frozen=True, rename="camel", omit_defaults=True):
    """``GET /api/v1/session`` and ``POST /api/v1/session/{stop,reset}``: the session's
    executions and, for ``resources`` and ``reset``, each runner's answer."""

    running: list[SessionExecution] = []
    recent: list[str] = []
    """Executions whose completion was sent on this socket, oldest first."""
    stopped: list[str] = []
    resources: list[SessionResources] | None = None


class SessionStateEvent(SessionState, frozen=True, tag="session_state", tag_field="type",
                        omit_defaults=False):
    """Socket event answering a ``session_control`` frame (every field, defaults too)."""

    action: SessionFrameAction = "list"
    request_id: str | None = None

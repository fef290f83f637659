"""What the janitor removes, decided from Docker's own labels; only this module's caller acts.

It never touches anything without the ``coderunner.managed`` label. Containers go when they
have exited, outlived their ``coderunner.expires`` label, or their runner is gone (no heartbeat
in the ``runners`` bucket); session networks when expired, orphaned, or left without a
container. Sandboxes keep their files in tmpfs mounts, so no workspace directory is ever left
on the host.
"""

from __future__ import annotations

import datetime
from typing import Any

from msgspec import Struct

from contracts import labels


class Removal(Struct, frozen=True):
    kind: str
    id: str
    name: str
    reason: str
    role: str = ""
    """What it was: ``sandbox``, ``kernel`` (a notebook's), ``database`` or
    ``session-network``."""


STARTING_GRACE_S = 300
"""A container is ``created`` for a moment before the runner starts it: leave it that long."""
ORPHAN_GRACE_S = 60
"""Younger than this, a container or network may belong to a runner whose first heartbeat or
first sandbox is still on its way."""


def container_removals(containers: list[dict[str, Any]], now: float,
                       live_runners: set[str] | None = None,
                       platform: str = "default") -> list[Removal]:
    """Managed containers that have exited, outlived their ``coderunner.expires`` label, or
    whose runner is not among ``live_runners`` (None: unknown, so nobody is judged gone)."""
    removals = []
    for c in containers:
        found = c.get("Labels") or {}
        if found.get(labels.MANAGED) != "1":
            continue
        name = (c.get("Names") or ["?"])[0].lstrip("/")
        created = c.get("Created")
        age = now - (float(created) if created is not None else now)
        reason = _reason(c.get("State", ""), age, found.get(labels.EXPIRES), now) or _orphan(
            found, age, live_runners, platform)
        if reason:
            removals.append(Removal("container", c["Id"], name, reason,
                                    found.get(labels.ROLE, "")))
    return removals


def network_removals(networks: list[dict[str, Any]], now: float,
                     live_runners: set[str] | None = None,
                     platform: str = "default") -> list[Removal]:
    """Managed session networks (inspected, with their ``Containers``) that expired, whose
    runner is gone, or that have no container attached and are older than ``ORPHAN_GRACE_S``
    (a session's network holds its sandboxes and database until the session is reaped)."""
    removals = []
    for n in networks:
        found = n.get("Labels") or {}
        if found.get(labels.MANAGED) != "1":
            continue
        age = now - _created(n.get("Created"), now)
        reason = _reason("", age, found.get(labels.EXPIRES), now) or _orphan(
            found, age, live_runners, platform)
        if reason is None and not n.get("Containers") and age > ORPHAN_GRACE_S:
            reason = "no container left on it"
        if reason:
            removals.append(Removal("network", n["Id"], n.get("Name", "?"), reason,
                                    found.get(labels.ROLE, "")))
    return removals


def _created(value: Any, now: float) -> float:
    """Docker gives networks an RFC 3339 time with nanoseconds: ``2026-12-01T01:02:03.4Z``."""
    if not isinstance(value, str) or len(value) < 19:
        return now
    try:
        return datetime.datetime.fromisoformat(value[:19]).replace(
            tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return now


def _orphan(found: dict[str, str], age: float, live_runners: set[str] | None,
            platform: str) -> str | None:
    """Only among our own platform's: another platform's runners are not in our heartbeats."""
    runner = found.get(labels.RUNNER)
    if (live_runners is None or runner is None or age <= ORPHAN_GRACE_S
            or found.get(labels.PLATFORM, "default") != platform):
        return None
    return None if runner in live_runners else f"runner {runner} is gone"


def _reason(state: str, age: float, expires: str | None, now: float) -> str | None:
    if state in ("exited", "dead") or (state == "created" and age > STARTING_GRACE_S):
        return f"state {state}"
    try:
        deadline = float(expires) if expires else None
    except ValueError:
        return "unreadable expiry label"
    if deadline is not None and deadline <= now:
        return "expired"
    return None

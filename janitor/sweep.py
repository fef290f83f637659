"""What the janitor removes, decided from Docker's own labels; only this module's caller acts.

It never touches anything without the ``coderunner.managed`` label.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from contracts import labels


class Removal(Struct, frozen=True):
    kind: str
    id: str
    name: str
    reason: str


def container_removals(containers: list[dict[str, Any]], now: float) -> list[Removal]:
    """Managed containers that have exited or outlived their ``coderunner.expires`` label."""
    removals = []
    for c in containers:
        found = c.get("Labels") or {}
        if found.get(labels.MANAGED) != "1":
            continue
        name = (c.get("Names") or ["?"])[0].lstrip("/")
        age = now - float(c.get("Created") or now)
        reason = _reason(c.get("State", ""), age, found.get(labels.EXPIRES), now)
        if reason:
            removals.append(Removal("container", c["Id"], name, reason))
    return removals


STARTING_GRACE_S = 300
"""A container is ``created`` for a moment before the runner starts it: leave it that long."""


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

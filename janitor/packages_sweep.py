"""Which package layers (docs/packages.md) the janitor removes: those of its platform that no
container has used for ``ttl_s``. Pure: ``LayerUse`` is what the janitor remembers between
passes of when it last saw each layer mounted."""

from __future__ import annotations

from typing import Any

from contracts import labels
from contracts.packages import LAYER_ROLE, LAYER_USER
from janitor.sweep import Removal, _created


class LayerUse:
    """Volume name → the last time a pass saw a container with it mounted."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def note(self, containers: list[dict[str, Any]], now: float) -> None:
        for c in containers:
            volume = (c.get("Labels") or {}).get(LAYER_USER)
            if volume:
                self.seen[volume] = now


def layer_removals(volumes: list[dict[str, Any]], use: LayerUse, now: float, ttl_s: float,
                   platform: str = "default") -> list[Removal]:
    """This platform's layers unused (not seen mounted, nor created) for more than ``ttl_s``;
    a one-shot sweep knows only their creation and the containers of now."""
    removals = []
    for v in volumes:
        found = v.get("Labels") or {}
        if (found.get(labels.MANAGED) != "1" or found.get(labels.ROLE) != LAYER_ROLE
                or found.get(labels.PLATFORM, "default") != platform):
            continue
        name = v.get("Name", "")
        last = max(use.seen.get(name, 0.0), _created(v.get("CreatedAt"), now))
        if now - last > ttl_s:
            removals.append(Removal("volume", name, name, f"unused for {now - last:.0f} s",
                                    LAYER_ROLE))
    for removal in removals:
        use.seen.pop(removal.name, None)
    return removals

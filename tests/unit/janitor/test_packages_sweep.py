"""Which package layers a janitor pass removes."""

from __future__ import annotations

from typing import Any

from contracts import labels
from contracts.packages import LAYER_ROLE, LAYER_USER
from janitor.packages_sweep import LayerUse, layer_removals

CREATED = "2026-12-01T00:00:00Z"
CREATED_AT = 1796083200.0
DAY = 86400.0


def volume(name: str, platform: str = "p", role: str = LAYER_ROLE) -> dict[str, Any]:
    return {"Name": name, "CreatedAt": CREATED, "Labels": {
        labels.MANAGED: "1", labels.ROLE: role, labels.PLATFORM: platform}}


def test_a_layer_unused_past_its_ttl_goes_and_one_seen_in_use_stays() -> None:
    use = LayerUse()
    use.note([{"Labels": {LAYER_USER: "used"}}], CREATED_AT + 2 * DAY)
    found = [volume("used"), volume("idle"), volume("other", platform="q"),
             volume("mine", role="sandbox")]
    removals = layer_removals(found, use, CREATED_AT + 2.5 * DAY, DAY, "p")
    assert [r.name for r in removals] == ["idle"]
    assert (removals[0].kind, removals[0].role) == ("volume", LAYER_ROLE)


def test_a_new_layer_counts_from_its_creation() -> None:
    assert layer_removals([volume("new")], LayerUse(), CREATED_AT + 10, DAY, "p") == []

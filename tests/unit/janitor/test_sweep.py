from __future__ import annotations

from typing import Any

from janitor.sweep import container_removals


def container(cid: str, state: str = "running", created: float = 0.0,
              **labels: str) -> dict[str, Any]:
    return {"Id": cid, "Names": [f"/{cid}"], "State": state, "Labels": labels,
            "Created": created}


def test_exited_and_expired_managed_containers_are_removed() -> None:
    found = [
        container("dead", "exited", **{"coderunner.managed": "1"}),
        container("old", **{"coderunner.managed": "1", "coderunner.expires": "100"}),
        container("young", **{"coderunner.managed": "1", "coderunner.expires": "300"}),
    ]
    removals = container_removals(found, now=200.0)
    assert {(r.id, r.reason) for r in removals} == {("dead", "state exited"), ("old", "expired")}


def test_containers_without_our_label_are_never_touched() -> None:
    found = [
        container("theirs", "exited"),
        container("also-theirs", **{"coderunner.expires": "1"}),
        container("spoofed", "exited", **{"coderunner.managed": "yes"}),
    ]
    assert container_removals(found, now=10**10) == []


def test_a_container_being_started_is_left_alone_but_not_forever() -> None:
    managed = {"coderunner.managed": "1"}
    starting = container("starting", "created", created=1000.0, **managed)
    assert container_removals([starting], now=1001.0) == []
    assert [r.id for r in container_removals([starting], now=1000.0 + 3600)] == ["starting"]

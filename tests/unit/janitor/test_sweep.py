from __future__ import annotations

import datetime
from typing import Any

from janitor.sweep import container_removals, network_removals


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


MANAGED = {"coderunner.managed": "1", "coderunner.runner": "r1"}


def test_containers_of_a_runner_without_heartbeat_are_orphans_once_old_enough() -> None:
    old = container("old", created=0.0, **MANAGED)
    young = container("young", created=990.0, **MANAGED)
    assert [r.id for r in container_removals([old, young], 1000.0, live_runners=set())] == [
        "old"]
    assert container_removals([old], 1000.0, live_runners={"r1"}) == []
    assert container_removals([old], 1000.0, live_runners=None) == [], "unknown is not gone"


def network(nid: str, created: str, containers: dict[str, Any] | None = None,
            **labels: str) -> dict[str, Any]:
    return {"Id": nid, "Name": nid, "Created": created, "Labels": labels,
            "Containers": containers or {}}


def test_session_networks_go_when_empty_expired_or_orphaned_and_never_otherwise() -> None:
    now = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC).timestamp()
    old, fresh = "2026-12-01T11:50:00.123456789Z", "2026-12-01T11:59:50.1Z"
    used = {"c1": {"Name": "sandbox"}}
    found = [
        network("empty", old, **MANAGED),
        network("in-use", old, used, **MANAGED),
        network("just-made", fresh, **MANAGED),
        network("expired", old, used, **{**MANAGED, "coderunner.expires": "1"}),
        network("not-ours", old),
    ]
    removals = {r.id: r.reason for r in network_removals(found, now, live_runners={"r1"})}
    assert removals == {"empty": "no container left on it", "expired": "expired"}
    orphaned = network_removals([network("in-use", old, used, **MANAGED)], now, set())
    assert [r.reason for r in orphaned] == ["runner r1 is gone"]


def test_a_kernel_lives_without_expiry_but_goes_with_its_runner() -> None:
    kernel = container("kernel", created=0.0, **MANAGED, **{"coderunner.role": "kernel"})
    assert container_removals([kernel], 10**9, live_runners={"r1"}) == [], "no expiry label"
    removed = container_removals([kernel], 10**9, live_runners=set())
    assert [(r.id, r.role, r.reason) for r in removed] == [
        ("kernel", "kernel", "runner r1 is gone")]

"""The edge's side of NATS is its bus: one connection and one part per concept. No other edge
module touches nats-py, so each use of NATS has one obvious home."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_boundaries import ROOT, imported_top_levels

BUS_PARTS = {
    "edge/nats_connection.py", "edge/job_queue.py", "edge/execution_events.py",
    "edge/runner_commands.py", "edge/runner_heartbeats.py", "edge/executions_bucket.py",
    "edge/limits_bucket.py", "edge/webhook_queue.py", "edge/workspace_store.py",
    "edge/problem_store.py", "edge/language_server_commands.py", "edge/kv_listing.py",
    "edge/seat_placement.py",
}


def nats_users(root: Path = ROOT) -> set[str]:
    return imported_top_levels("edge", root).get("nats", set())


def test_only_the_bus_parts_import_nats() -> None:
    assert nats_users() <= BUS_PARTS


def test_the_check_sees_another_module_importing_nats(tmp_path: Path) -> None:
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "api.py").write_text("import nats.errors\n")
    (tmp_path / "edge" / "job_queue.py").write_text("from nats.js import JetStreamContext\n")
    assert nats_users(tmp_path) == {"edge/api.py", "edge/job_queue.py"}
    assert not nats_users(tmp_path) <= BUS_PARTS

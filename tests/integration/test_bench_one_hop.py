"""The one-hop line of ``coderunner bench --fleet`` on real NATS (one server, and a three-node
cluster with every stream replicated three times): runners pulling from one shared consumer run
every job once, each within its runner's slots, with a seat of its own held that comes back to
it through its consumer of its own seats."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderunner.bench_one_hop import measure_one_hop


@pytest.mark.parametrize("nats_nodes", [1, 3])
async def test_every_job_is_claimed_once_seated_and_completed(tmp_path: Path,
                                                              nats_nodes: int) -> None:
    result = await measure_one_hop(tmp_path, runners=4, slots_each=2, rate=40, job_s=0.1,
                                   seconds=1.0, nats_nodes=nats_nodes)
    assert (result.nats_nodes, result.jobs) == (nats_nodes, 40)
    assert (result.lost, result.duplicated, result.holds_missing) == (0, 0, 0)
    assert 0 < result.submit_to_claim_p50_ms <= result.submit_to_claim_p99_ms
    assert result.submit_to_claim_p50_ms < result.submit_to_seat_p50_ms
    assert result.submit_to_seat_p50_ms <= result.submit_to_seat_p99_ms

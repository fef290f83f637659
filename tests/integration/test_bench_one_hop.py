"""The one-hop line of ``coderunner bench --fleet`` on a real nats-server: runners pulling from
one shared consumer run every job once, each within its runner's slots."""

from __future__ import annotations

from pathlib import Path

from coderunner.bench_one_hop import measure_one_hop


async def test_every_job_is_claimed_once_and_completed(tmp_path: Path) -> None:
    result = await measure_one_hop(tmp_path, runners=4, slots_each=2, rate=40, job_s=0.1,
                                   seconds=1.0)
    assert result.jobs == 40
    assert (result.lost, result.duplicated) == (0, 0)
    assert 0 < result.submit_to_claim_p50_ms <= result.submit_to_claim_p99_ms

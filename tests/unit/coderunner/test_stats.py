"""``coderunner stats`` in words, within 80 columns, however many runners and pools there are."""

from __future__ import annotations

from coderunner.stats import report
from contracts.api import (
    AdminMetrics,
    PoolView,
    QueueStatsView,
    QueueView,
    RunnerView,
    TaskTimes,
)

LANGUAGES = ["python", "javascript", "typescript", "java", "c", "cpp", "go", "rust", "ruby",
             "php", "lua", "perl", "bash", "sql", "kotlin", "haskell", "elixir", "ocaml"]
POOLS = {name: PoolView(warm=12, target=16, created=1234, create_ms_p50=456.7)
         for name in LANGUAGES}
QUEUE = QueueStatsView(
    queue=QueueView(waiting={"2": 1234, "1": 56789, "0": 7}, depth=58030, running=49,
                    capacity=100_000, max_concurrent=50),
    completed=1_234_567, failed=89_012, expired=345, cancelled=6789,
    verdicts={"ok": 1_234_567}, dispatchers=2,
    recent_task_times=TaskTimes(count=500, wall_ms_p50=14.2, wall_ms_p95=1234.5,
                                queued_ms_p50=3.1, queued_ms_p95=98765.4),
)


def runner(n: int) -> RunnerView:
    return RunnerView(runner_id=f"runner-{n}-a-very-long-host-name-0123456789abcdef0123",
                      active=12, capacity=16, kept=40, jobs=123_456, reused=98_765,
                      sessions=321, pools=POOLS, last_heartbeat=1.0, kernels=7,
                      taken_away=2, package_layers=12, package_bytes=3 * 2**30)


def metrics(queue: QueueStatsView | None = QUEUE, runners: int = 3) -> AdminMetrics:
    return AdminMetrics(runners=[runner(n) for n in range(runners)], pools=POOLS,
                        containers_warm=216, containers_kept=120, sessions=963,
                        active=36, jobs=370_368, reused=296_295, reuse_rate=0.8,
                        queue=queue, kernels=21, taken_away=6)


def test_every_line_fits_80_columns() -> None:
    for shown in (report(metrics()), report(metrics(None, 0))):
        too_wide = [line for line in shown.splitlines() if len(line) > 80]
        assert too_wide == []


def test_the_figures_are_named_in_words() -> None:
    shown = " ".join(report(metrics()).split())
    for words in ("58030 waiting (browser 1234, API 56789, background 7)",
                  "49 running of at most 50", "1234567 ok, 89012 failed, 345 expired, "
                  "6789 cancelled", "run time median 14 ms, 95th percentile 1234 ms",
                  "time queued median 3 ms", "12 of 16 slots busy", "(80% in a reused "
                  "container)", "Warm containers (ready/target): bash 12/16, c 12/16",
                  "216 warm, 120 kept", "Package layers: 12 (3072.0 MiB)",
                  "Runners: 3 alive."):
        assert words in shown, words
    assert "no dispatcher answered" in report(metrics(None, 0))
    assert "Runners: none alive." in report(metrics(None, 0))

"""Memory trends: the least-squares slope of RSS against executions, after warm-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from coderunner.rss import FLAT_MB_PER_1000, Sample, rss_mb, slope, trends


def test_slope_of_a_line_is_its_gradient() -> None:
    assert slope([(0, 1.0), (1, 3.0), (2, 5.0)]) == pytest.approx(2.0)
    assert slope([(0, 4.0), (1, 3.0), (2, 2.0), (3, 1.0)]) == pytest.approx(-1.0)


def test_slope_averages_out_noise_around_a_level() -> None:
    assert slope([(x, 10.0 + (0.5 if x % 2 else -0.5)) for x in range(100)]) == pytest.approx(
        0.0, abs=0.001)


def test_slope_needs_two_distinct_points() -> None:
    assert slope([]) == 0.0
    assert slope([(1, 5.0)]) == 0.0
    assert slope([(1, 5.0), (1, 9.0)]) == 0.0


def test_trends_start_after_warm_up_and_add_a_total() -> None:
    samples = [Sample(0, 0.0, {"edge": 10.0, "runner": 50.0}),  # warming up: not counted
               Sample(1000, 2.0, {"edge": 40.0, "runner": 60.0}),
               Sample(2000, 4.0, {"edge": 40.5, "runner": 70.0}),
               Sample(3000, 6.0, {"edge": 40.2, "runner": 80.0})]
    found = {t.component: t for t in trends(samples, warm_up_runs=1000)}
    assert set(found) == {"edge", "runner", "total"}
    edge, runner = found["edge"], found["runner"]
    assert (edge.warm_mb, edge.end_mb, edge.peak_mb) == (40.0, 40.2, 40.5)
    assert edge.mb_per_1000 == pytest.approx(0.1)
    assert edge.flat
    assert runner.mb_per_1000 == pytest.approx(10.0)
    assert not runner.flat
    assert found["total"].warm_mb == 100.0


def test_no_total_when_a_component_is_missing_from_a_sample() -> None:
    samples = [Sample(10, 0.0, {"edge": 1.0, "janitor": 1.0}), Sample(20, 1.0, {"edge": 1.0})]
    assert {t.component for t in trends(samples, 0)} == {"edge", "janitor"}


def test_flat_means_below_the_threshold() -> None:
    samples = [Sample(n * 1000, 0.0, {"edge": n * FLAT_MB_PER_1000}) for n in range(3)]
    assert not trends(samples, 0)[0].flat


def test_rss_of_a_live_process_and_of_a_gone_one() -> None:
    assert (rss_mb(os.getpid()) or 0) > 1
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert rss_mb(child.pid) is None


def test_the_second_half_slope_shows_growth_levelling_off() -> None:
    levels = [10.0, 12.0, 14.0, 16.0, 16.0, 16.0, 16.0, 16.0]
    edge = trends([Sample(n * 1000, 0.0, {"edge": mb}) for n, mb in enumerate(levels)], 0)[0]
    assert edge.mb_per_1000 > 0.5
    assert edge.late_mb_per_1000 == pytest.approx(0.0)

"""Resident memory of the platform's processes, sampled while a benchmark runs, and whether it
stays flat: the least-squares slope of each process's RSS against executions completed."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FLAT_MB_PER_1000 = 1.0
"""Growth below this (MB per 1000 executions, after warm-up) counts as flat: a process that kept
1 KB per execution would show as 1 MB per 1000, so smaller leaks are below what a run of a few
thousand executions can tell from the allocator's noise."""


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


@dataclass(frozen=True)
class Sample:
    runs: int
    """Executions completed when the sample was taken."""
    seconds: float
    mb: dict[str, float]
    """Component name → RSS in MB."""
    load: float = 0.0
    """The machine's load average over the last minute: others' work shows here."""


def sample(pids: Mapping[str, int], runs: int, seconds: float) -> Sample:
    found = {name: rss_mb(pid) for name, pid in pids.items()}
    return Sample(runs, seconds, {name: mb for name, mb in found.items() if mb is not None},
                  os.getloadavg()[0])


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of ``y`` against ``x``; 0 with fewer than two distinct ``x``."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


@dataclass(frozen=True)
class Trend:
    component: str
    warm_mb: float
    """RSS at the first sample after warm-up."""
    end_mb: float
    peak_mb: float
    mb_per_1000: float
    """Least-squares slope over the samples after warm-up, in MB per 1000 executions."""
    late_mb_per_1000: float = 0.0
    """The same over the second half of those samples: near zero when growth levels off."""

    @property
    def flat(self) -> bool:
        return self.mb_per_1000 < FLAT_MB_PER_1000

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "afterWarmUpMb": round(self.warm_mb, 1),
                "endMb": round(self.end_mb, 1), "peakMb": round(self.peak_mb, 1),
                "mbPer1000": round(self.mb_per_1000, 3),
                "lateMbPer1000": round(self.late_mb_per_1000, 3), "flat": self.flat}


def trends(samples: Sequence[Sample], warm_up_runs: int) -> list[Trend]:
    """One trend per component, over the samples taken once ``warm_up_runs`` had completed
    (and ``total``, the sum of the components, when every sample has them all)."""
    after = [s for s in samples if s.runs >= warm_up_runs]
    names = sorted({name for s in after for name in s.mb})
    series = {name: [(s.runs, s.mb[name]) for s in after if name in s.mb] for name in names}
    if names and all(len(points) == len(after) for points in series.values()):
        series["total"] = [(s.runs, sum(s.mb.values())) for s in after]
    return [
        Trend(name, points[0][1], points[-1][1], max(mb for _, mb in points),
              slope([(runs / 1000, mb) for runs, mb in points]),
              slope([(runs / 1000, mb) for runs, mb in points[len(points) // 2:]]))
        for name, points in series.items() if points
    ]

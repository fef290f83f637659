"""Counts of finished executions and recent timings, for ``stats.queue`` answers (no I/O)."""

from __future__ import annotations

import math
import time
from collections import Counter, deque

from contracts.messages import CompletionEvent, QueueStats

RECENT = 500


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class CompletionStats:
    def __init__(self) -> None:
        self.verdicts: Counter[str] = Counter()
        self._wall: deque[float] = deque(maxlen=RECENT)
        self._queued: deque[float] = deque(maxlen=RECENT)
        self._seen: deque[str] = deque(maxlen=RECENT)
        self._seen_set: set[str] = set()
        """``_seen`` as a set: looked up on every completion."""
        self.started_at = time.time()

    def record(self, completion: CompletionEvent) -> None:
        if completion.execution_id in self._seen_set:  # a redelivered one: count it once
            return
        if len(self._seen) == RECENT:
            self._seen_set.discard(self._seen[0])
        self._seen.append(completion.execution_id)
        self._seen_set.add(completion.execution_id)
        self.verdicts[completion.verdict] += 1
        if completion.verdict not in ("expired", "cancelled"):
            self._wall.append(completion.wall_ms)
        self._queued.append(completion.queued_ms)

    def snapshot(self, waiting: dict[int, int], running: int, capacity: int,
                 max_concurrent: int, on_runners: int = 0) -> QueueStats:
        wall, queued = list(self._wall), list(self._queued)
        return QueueStats(
            waiting={str(p): n for p, n in waiting.items()},
            running=running,
            capacity=capacity,
            max_concurrent=max_concurrent,
            verdicts=dict(self.verdicts),
            wall_ms_p50=percentile(wall, 0.5),
            wall_ms_p95=percentile(wall, 0.95),
            queued_ms_p50=percentile(queued, 0.5),
            queued_ms_p95=percentile(queued, 0.95),
            recent=len(wall),
            started_at=self.started_at,
            on_runners=on_runners,
        )

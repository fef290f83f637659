"""Prometheus metrics of one edge (``GET /metrics``), on a registry of its own.

Every edge sees every completion, so execution counters and histograms describe the whole
platform on each edge: aggregate them across edges with ``max``, not ``sum``. HTTP and socket
metrics are this edge's own."""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from contracts.api import AdminMetrics, QueueStatsView
from contracts.messages import CompletionEvent


class Placement(NamedTuple):
    """This edge's placing of jobs straight on seats (``edge/seat_placement.py``)."""

    placing: bool
    placed: int
    refused: int


SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.executions = Counter("coderunner_executions", "Completed executions",
                                  ["language", "verdict"], registry=r)
        self.wall = Histogram("coderunner_execution_wall_seconds", "Run time of a program",
                              ["language"], buckets=SECONDS, registry=r)
        self.queued = Histogram("coderunner_execution_queue_seconds",
                                "Time from submission to a runner's claim", buckets=SECONDS,
                                registry=r)
        self.requests = Histogram("coderunner_http_request_seconds", "HTTP API latency",
                                  ["method", "route", "status"], buckets=SECONDS, registry=r)
        self.sockets = Gauge("coderunner_websocket_connections", "Open browser sockets",
                             registry=r)
        self.waiting = Gauge("coderunner_queue_waiting", "Jobs waiting", ["priority"],
                             registry=r)
        self.running = Gauge("coderunner_queue_running", "Jobs on runners (released by a "
                             "dispatcher or put on a seat by an edge)", registry=r)
        self.runners = Gauge("coderunner_runners", "Runners with a live heartbeat", registry=r)
        self.warm = Gauge("coderunner_pool_warm_containers", "Warm containers", ["language"],
                          registry=r)
        self.reuse = Gauge("coderunner_container_reuse_ratio",
                           "Share of jobs run in a kept container", registry=r)
        self.taken_away = Gauge("coderunner_sandboxes_taken_away",
                                "Sandboxes frozen and removed because their agent did not end "
                                "a run in time (since each live runner started)", registry=r)
        self.placing = Gauge("coderunner_edge_placing_on_seats",
                             "1 while this edge puts plain jobs straight on free seats (every "
                             "dispatcher heard lately says no job waits), else 0", registry=r)
        self.placed = Gauge("coderunner_edge_jobs_placed_on_seats",
                            "Jobs this edge put straight on a free seat (since it started)",
                            registry=r)
        self.seats_refused = Gauge("coderunner_edge_seats_refused",
                                   "Seats the stream refused this edge, held by a job it had "
                                   "not heard of (since it started)", registry=r)

    def completed(self, completion: CompletionEvent) -> None:
        language = completion.language or "unknown"
        self.executions.labels(language, completion.verdict).inc()
        self.queued.observe(completion.queued_ms / 1000)
        if completion.verdict not in ("expired", "cancelled"):
            self.wall.labels(language).observe(completion.wall_ms / 1000)

    def render(self, queue: QueueStatsView | None, admin: AdminMetrics,
               placement: Placement) -> bytes:
        """The exposition text, with the gauges read from the platform just now."""
        if queue is not None:
            for priority, count in queue.queue.waiting.items():
                self.waiting.labels(priority).set(count)
            self.running.set(queue.queue.running)
        self.runners.set(len(admin.runners))
        for language, pool in admin.pools.items():
            self.warm.labels(language).set(pool.warm)
        self.reuse.set(admin.reuse_rate)
        self.taken_away.set(admin.taken_away)
        self.placing.set(1 if placement.placing else 0)
        self.placed.set(placement.placed)
        self.seats_refused.set(placement.refused)
        return generate_latest(self.registry)

"""A completion a dispatcher refuses leaves the job unacknowledged: its redelivery (or its move
off this runner) ends it, where an ack would lose the completion for good."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from contracts.messages import CompletionEvent, JobFile, ProgramJob
from contracts.runtimes import Catalog
from contracts.settings import RunnerSettings
from runners.bus import CompletionRefused
from runners.runner import Runner


class Claimed:
    def __init__(self, job: ProgramJob) -> None:
        self.job = job
        self.claimed_at = time.time()
        self.deliveries = 1
        self.seat = "3 41"
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def in_progress(self) -> None:
        pass


async def test_a_refused_completion_leaves_the_job_unacknowledged() -> None:
    asked: list[tuple[CompletionEvent, str | None]] = []

    async def publish_completion(completion: CompletionEvent, seat: str | None) -> None:
        asked.append((completion, seat))
        raise CompletionRefused(completion.execution_id, "this job was not given to this runner")

    settings = RunnerSettings()
    sandboxes: Any = SimpleNamespace(_api=None, _settings=settings, instance="i",
                                     remove=None, destroy=None)
    bus: Any = SimpleNamespace(publish_completion=publish_completion, progress_every_s=60.0,
                               subscribe_notebook=None, subscribe_control=None)
    runner = Runner(settings, Catalog([]), sandboxes, bus, {})

    async def complete(job: ProgramJob) -> CompletionEvent:
        return CompletionEvent(job.execution_id, "ok")

    runner._complete = complete  # type: ignore[method-assign,assignment]
    claimed = Claimed(ProgramJob(execution_id="e1", owner="key:k", priority=1,
                                 submitted_at=time.time(), language="python",
                                 files=[JobFile("main.py", "print(1)")], main_file="main.py"))
    await runner._handle(claimed)  # type: ignore[arg-type]
    assert [(c.execution_id, seat) for c, seat in asked] == [("e1", "3 41")]
    assert not claimed.acked
    assert runner.active == 0

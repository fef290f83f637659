"""A ``JudgementJob`` from claim to completion: its tests fetched (a stored problem's), the
judge listening for a stop before the job says it runs, the result stored for the HTTP API,
then the completion: ``ok`` once judged (the verdicts are in the result), ``cancelled`` when
stopped, ``internal_error`` when its stored tests are missing."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from contracts.judging import JudgementEvent, JudgementResult
from contracts.messages import (
    CompletionEvent,
    Control,
    ControlReply,
    JudgementJob,
    completion_for,
    status_for,
)
from contracts.runtimes import Catalog, Runtime
from contracts.settings import RunnerSettings
from runners.judge import Judge, Publish, internal_result
from runners.judge_seat import SandboxSource
from runners.judge_tests import TestsUnavailable, names_only, resolved


class Subscribed(Protocol):
    async def unsubscribe(self) -> None: ...


class JudgementBus(Protocol):
    """What of the runner's bus a judgement uses (runners/bus.py)."""

    async def problem_data(self, sha256: str) -> bytes | None: ...

    async def put_judgement(self, execution_id: str, result: JudgementResult) -> None: ...

    async def subscribe_control(
        self, execution_id: str, handler: Callable[[Control], Awaitable[ControlReply]],
    ) -> Subscribed: ...


async def judge_job(job: JudgementJob, runtime: Runtime, catalog: Catalog,
                    settings: RunnerSettings, source: SandboxSource, bus: JudgementBus,
                    publish: Publish, queued_ms: int) -> CompletionEvent:
    started = time.monotonic()
    try:
        tests = await resolved(job.tests, bus.problem_data)
    except TestsUnavailable as exc:
        result = internal_result(job, names_only(job.tests), str(exc))
        await publish(JudgementEvent(job.execution_id, result))
        await bus.put_judgement(job.execution_id, result)
        return completion_for(job, "internal_error", str(exc), queued_ms=queued_ms)
    judge = Judge(job, tests, runtime, catalog, settings, source, publish)
    subscription = await bus.subscribe_control(job.execution_id, judge.control)
    try:  # a stop sent on seeing "running" finds the subscription
        await publish(status_for(job, "running"))
        result = await judge.run()
    finally:
        await subscription.unsubscribe()
    await bus.put_judgement(job.execution_id, result)
    wall_ms = round((time.monotonic() - started) * 1000)
    if judge.stopped:
        return completion_for(job, "cancelled", "the judgement was stopped",
                              queued_ms=queued_ms, wall_ms=wall_ms)
    return completion_for(job, "ok", f"{result.verdict}: {result.passed}/{result.total} "
                          f"passed, score {result.score:g}/{result.max_score:g}",
                          queued_ms=queued_ms, wall_ms=wall_ms)

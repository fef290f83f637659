"""The counter of what really ran (``tests/runs_seen.py``) tells a second run from a run's
completion published again: a run is told by its claim."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from contracts import subjects
from contracts.messages import CompletionEvent, StatusEvent, encode
from tests.runs_seen import RunsSeen


def published(event: CompletionEvent | StatusEvent) -> Any:
    subject = (subjects.completed(event.execution_id) if isinstance(event, CompletionEvent)
               else subjects.events(event.execution_id))
    return SimpleNamespace(subject=subject, data=encode(event))


async def test_a_completion_published_again_is_one_run() -> None:
    seen = RunsSeen(nc=None)  # type: ignore[arg-type]
    await seen.on_msg(published(StatusEvent("e1", "running")))
    for _ in range(2):
        await seen.on_msg(published(CompletionEvent("e1", "ok", claimed_at=100.25)))
    assert (seen.starts["e1"], seen.completions["e1"]) == (1, 1)
    assert seen.twice(["e1"]) == {}


async def test_two_runs_are_two_whatever_the_starts_seen() -> None:
    seen = RunsSeen(nc=None)  # type: ignore[arg-type]
    await seen.on_msg(published(StatusEvent("e1", "running")))  # the second start was missed
    await seen.on_msg(published(CompletionEvent("e1", "ok", claimed_at=100.25)))
    await seen.on_msg(published(CompletionEvent("e1", "ok", claimed_at=131.5)))
    assert seen.twice(["e1"]) == {"e1": (1, 2)}

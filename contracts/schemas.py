"""JSON Schemas of the events other programs read from NATS, generated from the msgspec types in
contracts/messages.py. docs/events.md embeds the completion's schema; a unit test keeps it equal
to ``completion_event_schema()``."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.messages import CompletionEvent, ExecutionEvent


def completion_event_schema() -> dict[str, Any]:
    """The payload of ``exec.completed.<executionId>`` (and the socket's ``completion``)."""
    return msgspec.json.schema(CompletionEvent)


def execution_event_schemas() -> dict[str, Any]:
    """Every event of one execution (``status``, ``output``, ``table``, ``notebook_output``,
    a judgement's ``test`` and ``judgement``, ``completion``): an ``anyOf`` discriminated by
    ``type``, one schema per event in ``$defs``."""
    return msgspec.json.schema(ExecutionEvent)

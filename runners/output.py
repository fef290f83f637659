"""What a ``keepOutput`` job (the HTTP API's) printed, kept while its events are relayed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from contracts.messages import (
    CompletionEvent,
    ExecutionEvent,
    NotebookOutputEvent,
    OutputEvent,
    StatusEvent,
    StoredOutput,
    TableEvent,
    TableResult,
)

Publish = Callable[[ExecutionEvent], Awaitable[None]]


class KeptOutput:
    """Relays events to ``publish`` and keeps stdout, stderr and tables; calls ``on_running``
    when the job starts, so that the API can say it runs."""

    def __init__(self, publish: Publish, on_running: Callable[[], Awaitable[None]]) -> None:
        self._publish = publish
        self._on_running = on_running
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._tables: list[TableResult] = []
        self._outputs: list[dict[str, Any]] = []

    async def publish(self, event: ExecutionEvent) -> None:
        await self._publish(event)
        match event:
            case OutputEvent(stream="stdout", data=data):
                self._stdout.append(data)
            case OutputEvent(data=data):
                self._stderr.append(data)
            case TableEvent(columns=columns, rows=rows):
                self._tables.append(TableResult(columns, rows))
            case NotebookOutputEvent(output=output):
                self._outputs.append(output)
            case StatusEvent(status="running"):
                await self._on_running()

    def stored(self, completion: CompletionEvent) -> StoredOutput:
        return StoredOutput(
            stdout="".join(self._stdout),
            stderr="".join(self._stderr),
            tables=self._tables,
            truncated=completion.truncated,
            outputs=self._outputs,
            execution_count=completion.execution_count,
        )

"""Notebooks opened with the HTTP API (``NotebookRecord``), in the ``executions`` bucket."""

from __future__ import annotations

from contracts import subjects
from contracts.messages import NotebookRecord, encode, notebook_record_decoder
from edge.executions_bucket import ExecutionsBucket


class NotebookRecords:
    def __init__(self, bucket: ExecutionsBucket) -> None:
        self._bucket = bucket

    async def put(self, key: str, record: NotebookRecord) -> None:
        await self._bucket.put(subjects.notebook_record_key(key), encode(record))

    async def get(self, key: str) -> NotebookRecord | None:
        data = await self._bucket.get(subjects.notebook_record_key(key))
        return notebook_record_decoder.decode(data) if data else None

    async def delete(self, key: str) -> None:
        await self._bucket.delete(subjects.notebook_record_key(key))

"""The HTTP API's entries of an execution in the ``executions`` bucket: its record, whether it
runs, its stored output, its webhook's state; and the ``Idempotency-Key`` entries."""

from __future__ import annotations

import asyncio

from contracts import subjects
from contracts.messages import (
    ExecutionRecord,
    StoredOutput,
    WebhookState,
    encode,
    record_decoder,
    stored_output_decoder,
    webhook_state_decoder,
)
from edge.executions_bucket import ExecutionsBucket


class ExecutionRecords:
    def __init__(self, bucket: ExecutionsBucket) -> None:
        self._bucket = bucket

    async def put(self, record: ExecutionRecord) -> None:
        """Store ``record`` under its id, and in its owner's list."""
        data = encode(record)
        await asyncio.gather(self._bucket.put(subjects.record_key(record.execution_id), data),
                             self._bucket.put(owned_key(record), data))  # at once: hot path

    async def delete(self, record: ExecutionRecord) -> None:
        await self._bucket.delete(owned_key(record))
        await self._bucket.delete(subjects.record_key(record.execution_id))

    async def owned(self, owner: str) -> list[ExecutionRecord]:
        """Every record of ``owner`` still kept, newest first."""
        records = [record_decoder.decode(data)
                   for data in await self._bucket.values(subjects.owned_executions(owner))]
        return sorted(records, key=position, reverse=True)

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        data = await self._bucket.get(subjects.record_key(execution_id))
        return record_decoder.decode(data) if data else None

    async def output(self, execution_id: str) -> StoredOutput | None:
        data = await self._bucket.get(subjects.output_key(execution_id))
        return stored_output_decoder.decode(data) if data else None

    async def is_running(self, execution_id: str) -> bool:
        return await self._bucket.get(subjects.running_key(execution_id)) is not None

    async def webhook_state(self, execution_id: str) -> WebhookState | None:
        data = await self._bucket.get(subjects.webhook_key(execution_id))
        return webhook_state_decoder.decode(data) if data else None

    async def put_webhook_state(self, execution_id: str, state: WebhookState) -> None:
        await self._bucket.put(subjects.webhook_key(execution_id), encode(state))


def owned_key(record: ExecutionRecord) -> str:
    return subjects.owned_key(record.owner, record.submitted_at, record.execution_id)


def position(record: ExecutionRecord) -> tuple[int, str]:
    """Where a record stands in its owner's list: by submission (in milliseconds, as its key
    says), then by id."""
    return round(record.submitted_at * 1000), record.execution_id


class IdempotencyKeys:
    def __init__(self, bucket: ExecutionsBucket) -> None:
        self._bucket = bucket

    async def claim(self, digest: str, value: bytes) -> bytes | None:
        """Store ``value`` under an idempotency key unless it is taken; the taken value else."""
        key = subjects.idempotency_key(digest)
        if await self._bucket.create(key, value):
            return None
        return await self._bucket.get(key) or b"{}"

    async def release(self, digest: str) -> None:
        await self._bucket.purge(subjects.idempotency_key(digest))

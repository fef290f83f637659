"""The dispatcher's event loop: feeds the DispatchQueue from NATS and acts on its decisions."""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec
from nats.aio.msg import Msg

from contracts.messages import CompletionEvent, Job, QueueStats, Verdict, job_decoder
from contracts.settings import DispatcherSettings
from contracts.subjects import PRIORITIES, notebook_key
from dispatcher.bus import DispatcherBus
from dispatcher.service import DispatchQueue, Waiting
from dispatcher.stats import CompletionStats

log = logging.getLogger(__name__)
Held = tuple[Msg, Job]
HOUSEKEEPING_S = 1.0
RETRY_S = 0.5
IN_PROGRESS_EVERY_S = 10.0


class Dispatcher:
    def __init__(self, settings: DispatcherSettings, bus: DispatcherBus) -> None:
        self.bus = bus
        self.queue: DispatchQueue[Held] = DispatchQueue(
            settings.max_concurrent, settings.queue_timeout_s
        )
        self._wake = asyncio.Event()
        self.settings = settings
        self.stats = CompletionStats()

    async def serve(self) -> None:
        await self.bus.on_completion(self._completed)
        await self.bus.on_stop(self._stop)
        await self.bus.on_dead_letter(self._dead_letter)
        await self.bus.on_stats_request(self._stats)
        loops = [self._fetch(p) for p in PRIORITIES] + [self._release(), self._housekeeping()]
        await asyncio.gather(*loops)

    async def _fetch(self, priority: int) -> None:
        while True:
            try:
                await self._fetch_once(priority)
            except Exception as exc:  # NATS reconnecting, say: the jobs wait in the stream
                log.warning("fetching priority %d failed: %s; retrying", priority, exc)
                await asyncio.sleep(RETRY_S)

    async def _fetch_once(self, priority: int) -> None:
        for msg in await self.bus.fetch(priority):
            try:
                job = job_decoder.decode(msg.data)
            except msgspec.ValidationError as exc:
                log.error("dropping a malformed job: %s", exc)
                await msg.term()
                continue
            group = notebook_key(job.owner, job.notebook.notebook_id) if job.notebook else None
            waiting = Waiting(job.execution_id, priority, job.submitted_at, (msg, job), group)
            if not self.queue.add(waiting):
                await msg.ack()  # a redelivered duplicate of a job this dispatcher holds
            await self._release_ready()  # at once, when a slot is free

    async def _release(self) -> None:
        """Release what a completion made room for."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._release_ready()

    async def _release_ready(self) -> None:
        while (item := self.queue.next()) is not None:
            msg, job = item.handle
            try:
                await self.bus.release(job, msg.data)
                await msg.ack()
            except Exception as exc:
                # Not acked: JetStream redelivers the job to a dispatcher after ack_wait.
                log.warning("releasing %s failed: %s", job.execution_id, exc)
                self.queue.completed(job.execution_id)
                await asyncio.sleep(RETRY_S)

    async def _housekeeping(self) -> None:
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                for item in self.queue.take_expired(time.time()):
                    await self._finish(item.handle, "expired", "waited longer than QUEUE_TIMEOUT")
                if time.monotonic() - last_progress >= IN_PROGRESS_EVERY_S:
                    last_progress = time.monotonic()
                    for waiting in self.queue.waiting():
                        await waiting.handle[0].in_progress()
            except Exception as exc:
                log.warning("housekeeping failed: %s; retrying", exc)

    async def _finish(self, held: Held, verdict: Verdict, message: str) -> None:
        msg, job = held
        queued_ms = max(0, round((time.time() - job.submitted_at) * 1000))
        await self.bus.publish_completion(
            CompletionEvent(
                execution_id=job.execution_id, verdict=verdict, queued_ms=queued_ms,
                language=job.language, message=message, request_id=job.request_id,
                webhook=job.webhook, notebook_id=cell_ids(job)[0], cell_id=cell_ids(job)[1],
            )
        )
        await msg.ack()

    async def _stats(self) -> QueueStats:
        pending = await self.bus.pending()
        held = self.queue.depth()
        waiting = {p: held.get(p, 0) + pending.get(p, 0) for p in PRIORITIES}
        return self.stats.snapshot(waiting, len(self.queue.running),
                                   self.settings.queue_capacity, self.settings.max_concurrent)

    async def _completed(self, completion: CompletionEvent) -> None:
        self.stats.record(completion)
        if self.queue.completed(completion.execution_id):
            self._wake.set()

    async def _stop(self, execution_id: str) -> None:
        item = self.queue.cancel(execution_id)
        if item is not None:
            await self._finish(item.handle, "cancelled", "stopped before it ran")

    async def _dead_letter(self, job: Job) -> None:
        await self.bus.publish_completion(
            CompletionEvent(
                execution_id=job.execution_id, verdict="internal_error", language=job.language,
                message="no runner could finish this job", request_id=job.request_id,
                webhook=job.webhook, notebook_id=cell_ids(job)[0], cell_id=cell_ids(job)[1],
            )
        )


def cell_ids(job: Job) -> tuple[str | None, str | None]:
    """A notebook cell's ids, for a completion the dispatcher publishes itself."""
    if job.notebook is None:
        return None, None
    return job.notebook.notebook_id, job.notebook.cell_id

"""The queue as the edge sees it: submit a job (straight on a free seat while none waits, see
``edge/seat_placement.py``), ask whether the queue is set up, ask every dispatcher for its
counts."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors

from contracts import subjects
from contracts.api import QueueStatsView
from contracts.messages import Job, QueueStats, encode, queue_stats_decoder
from contracts.nats_options import MAXIMUM_MESSAGES_EXCEEDED
from edge.nats_connection import (
    NatsConnection,
    NotReady,
    QueueFull,
    SubmitError,
)
from edge.seat_placement import SeatPlacement
from edge.stats import combine_queue_stats


class JobQueue:
    def __init__(self, connection: NatsConnection,
                 placement: SeatPlacement | None = None) -> None:
        self._connection = connection
        self.placement = placement or SeatPlacement(connection)
        """Places jobs once started (``SeatPlacement.start``); until then, none."""

    async def submit(self, job: Job) -> None:
        if await self.placement.place(job):
            return
        try:
            await self._connection.jetstream.publish(
                subjects.job_submit(job.priority),
                encode(job),
                headers={"Nats-Msg-Id": job.execution_id},
                timeout=5,
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == MAXIMUM_MESSAGES_EXCEEDED:
                raise QueueFull(QueueFull.__doc__) from exc
            raise SubmitError(f"the queue refused the job: {exc.description}") from exc
        except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError) as exc:
            raise NotReady(NotReady.__doc__) from exc
        except nats.errors.TimeoutError as exc:
            raise NotReady("the queue did not answer in time") from exc

    async def ready(self) -> bool:
        """Whether the dispatcher finished setting up: the results bucket, which it makes last
        (after the queue's streams and consumers), exists."""
        try:
            await self._connection.jetstream.stream_info(
                subjects.kv_stream(subjects.EXECUTIONS_BUCKET))
        except (nats.js.errors.NotFoundError, nats.errors.TimeoutError,
                nats.errors.NoRespondersError):
            return False
        return True

    async def stats(self, timeout_s: float = 0.25) -> QueueStatsView | None:
        """The queue as every dispatcher that answers within ``timeout_s`` holds it, combined
        (None when none answered)."""
        nc = self._connection.client
        inbox = nc.new_inbox()
        answers: list[QueueStats] = []
        sub = await nc.subscribe(inbox)
        try:
            await nc.publish(subjects.QUEUE_STATS, b"", reply=inbox)
            deadline = asyncio.get_running_loop().time() + timeout_s
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=left)
                except TimeoutError:
                    break
                answers.append(queue_stats_decoder.decode(msg.data))
        finally:
            await sub.unsubscribe()
        return combine_queue_stats(answers)

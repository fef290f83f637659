"""One of the fleet bench's edges, in a process of its own (``coderunner bench --fleet``, its
edge-placed phase): the real edge's job queue (``edge/job_queue.py``), which puts each plain job
straight on a free seat while no job waits (``edge/seat_placement.py``), as a real edge is a
process of its own (its work must not slow the simulated runners' process, nor another edge's).

``python -m coderunner.edge_sim URL RUNNERS RATE SECONDS OUT``: once the edge has heard a
dispatcher say no job waits, and ``RUNNERS`` runners' heartbeats, jobs are submitted at ``RATE``
a second for ``SECONDS``; once each has completed (or ``SETTLE_S`` passed), OUT gets JSON:
``submitted`` (execution id → when submitted, Unix seconds), ``placed`` (jobs put straight on
seats; the others went to the queue) and ``refused`` (seats the stream refused, another tried).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg

from coderunner.bench_one_hop import paced, plain_job
from contracts import subjects
from edge.job_queue import JobQueue
from edge.nats_connection import NatsConnection

SETTLE_S = 120.0
READY_S = 30.0


async def edge(url: str, runners: int) -> JobQueue:
    """An edge's job queue, once it may place and has heard ``runners`` runners."""
    connection = NatsConnection(url)
    await connection.connect()
    queue = JobQueue(connection)
    await queue.placement.start()
    deadline = time.monotonic() + READY_S
    while not (queue.placement.map.may_place(time.monotonic())
               and len(queue.placement.map.runners) >= runners):
        if time.monotonic() > deadline:
            raise TimeoutError("the edge heard no dispatcher, or not every runner")
        await asyncio.sleep(0.05)
    return queue


async def place(url: str, runners: int, rate: float, seconds: float) -> dict[str, Any]:
    queue = await edge(url, runners)
    try:
        done: set[str] = set()

        async def on_completion(msg: Msg) -> None:
            execution_id = subjects.execution_of_completion(msg.subject)
            done.add(execution_id)
            queue.placement.completed(execution_id)

        nc = queue.placement.connection.client
        await nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=on_completion)
        await nc.flush()
        submitted: dict[str, float] = {}
        pending: set[asyncio.Task[None]] = set()

        def submit(number: int) -> None:
            job = plain_job(number)
            submitted[job.execution_id] = job.submitted_at
            task = asyncio.create_task(queue.submit(job))
            pending.add(task)
            task.add_done_callback(pending.discard)

        await paced(rate, seconds, submit)
        await asyncio.gather(*pending)
        deadline = time.monotonic() + SETTLE_S
        while not set(submitted) <= done and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {"submitted": submitted, "placed": queue.placement.placed,
                "refused": queue.placement.refused}
    finally:
        await queue.placement.connection.close()


def main(argv: list[str]) -> None:
    url, runners, rate, seconds, out = argv
    result = asyncio.run(place(url, int(runners), float(rate), float(seconds)))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

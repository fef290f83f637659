"""The fleet bench's edges in a process of their own (``coderunner bench --fleet``, its
edge-placed phase): real edges are processes of their own, so their work must not slow the
simulated runners' process, nor theirs the edges.

``python -m coderunner.edge_sim URL RUNNERS SLOTS RATE SECONDS OUT``: the runners are the
bench's (``sim-0000``…, ``SLOTS`` seats each); jobs are placed at ``RATE`` a second for
``SECONDS`` by ``EdgePlacer`` (``coderunner/bench_edge_places.py``), which hears every release
and every completion; once each job has completed (or ``SETTLE_S`` passed), OUT gets JSON:
``submitted`` (execution id → when submitted, Unix seconds), ``fallbacks``, ``triesP99``
(seats tried per job placed on one, 99th percentile).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg

from coderunner.bench_edge_places import EdgePlacer, edge_views
from coderunner.bench_one_hop import paced, plain_job
from coderunner.fleet_sim import simulated_runner_id
from contracts import subjects
from contracts.nats_options import nats_servers
from dispatcher.stats import percentile

SETTLE_S = 120.0


async def place(url: str, runners: int, slots: int, rate: float, seconds: float
                ) -> dict[str, Any]:
    nc = await nats.connect(nats_servers(url))
    try:
        ids = [simulated_runner_id(index) for index in range(runners)]
        placer = EdgePlacer(nc, edge_views(ids, slots))
        await placer.listen()
        done: set[str] = set()

        async def on_completion(msg: Msg) -> None:
            execution_id = subjects.execution_of_completion(msg.subject)
            done.add(execution_id)
            placer.completed(execution_id)

        await nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=on_completion)
        await nc.flush()
        submitted: dict[str, float] = {}
        pending: set[asyncio.Task[None]] = set()

        def submit(number: int) -> None:
            job = plain_job(number)
            submitted[job.execution_id] = job.submitted_at
            task = asyncio.create_task(placer.place(job))
            pending.add(task)
            task.add_done_callback(pending.discard)

        await paced(rate, seconds, submit)
        await asyncio.gather(*pending)
        deadline = time.monotonic() + SETTLE_S
        while not set(submitted) <= done and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {"submitted": submitted, "fallbacks": placer.fallbacks,
                "triesP99": percentile(placer.tries, 0.99)}
    finally:
        await nc.close()


def main(argv: list[str]) -> None:
    url, runners, slots, rate, seconds, out = argv
    result = asyncio.run(place(url, int(runners), int(slots), float(rate), float(seconds)))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

"""The fleet bench's observer: a process of its own, with its own NATS connection, that sees
each job enter the queue (its publish on ``jobs.submit.*``), take its slot (a dispatcher's
publish on ``slots.*``, when it takes one) and leave the queue for a runner (its release on
``seats.*.*``, or ``jobs.run.*`` for a runner without seats), and writes when, per execution
id, once stopped. A release refused by a held seat reaches a plain subscriber too, before the
one that went, so a seat's release counts when last seen; the others when first seen.

Placement is then timed by a loop that does nothing else: the bench's own process (the
submitter and 200 simulated runners) is busy, and a job it stamps before its publish is sent
counts its own loop's wait as the platform's. Both times are taken by the same clock and the same
loop, so they are comparable.

``python -m coderunner.fleet_observer NATS_URL OUT``: subscribes, creates ``OUT.ready``, and on
SIGTERM writes ``OUT`` (JSON: ``{"queued": {id: unix seconds}, "slotted": {id: ...},
"released": {id: ...}}``, the first of each) and exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.msg import Msg

from contracts.settings import nats_servers
from contracts.subjects import (
    JOBS_SUBJECTS,
    RUN_SUBJECTS,
    SEATS_SUBJECTS,
    SLOTS_SUBJECTS,
    execution_of_slot,
)

MSG_ID = "Nats-Msg-Id"


def execution_of(msg_id: str) -> str:
    """The execution id a queue or release message's ``Nats-Msg-Id`` names (a job moved off a
    silent runner carries ``<id>.r<seq>`` in the queue and ``<id>.j<seq>`` on release)."""
    return msg_id.split(".", 1)[0]


def by_msg_id(msg: Msg) -> str | None:
    """The execution id a queue or release message names in its ``Nats-Msg-Id``."""
    msg_id = (msg.headers or {}).get(MSG_ID)
    return execution_of(msg_id) if msg_id else None


async def observe(url: str, out: Path) -> None:
    queued: dict[str, float] = {}
    slotted: dict[str, float] = {}
    released: dict[str, float] = {}

    def seen(into: dict[str, float], execution: Callable[[Msg], str | None], last: bool = False
             ) -> Callable[[Msg], Awaitable[None]]:
        async def on_msg(msg: Msg) -> None:
            if (execution_id := execution(msg)) is not None:
                if last:
                    into[execution_id] = time.time()
                else:
                    into.setdefault(execution_id, time.time())
        return on_msg

    nc = await nats.connect(nats_servers(url))
    await nc.subscribe(JOBS_SUBJECTS, cb=seen(queued, by_msg_id))
    await nc.subscribe(SLOTS_SUBJECTS, cb=seen(slotted, lambda m: execution_of_slot(m.subject)))
    await nc.subscribe(RUN_SUBJECTS, cb=seen(released, by_msg_id))
    await nc.subscribe(SEATS_SUBJECTS, cb=seen(released, by_msg_id, last=True))
    await nc.flush()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    Path(f"{out}.ready").touch()
    await stop.wait()
    await nc.drain()
    out.write_text(json.dumps({"queued": queued, "slotted": slotted, "released": released}))


if __name__ == "__main__":
    asyncio.run(observe(sys.argv[1], Path(sys.argv[2])))

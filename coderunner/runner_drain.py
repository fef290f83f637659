"""``coderunner runner drain ID``: ask a runner to take no more jobs and let its running ones
finish (each within its wall limit); ``--wait`` asks again until none runs. Then stop it
(``systemctl stop coderunner@runner``), upgrade or retire the host."""

from __future__ import annotations

import asyncio
import sys

import nats
import nats.errors

from contracts import subjects
from contracts.messages import drain_reply_decoder
from contracts.nats_options import NatsOptions, connect_options

ASK_EVERY_S = 1.0
REPLY_S = 5.0


async def drain(url: str, options: NatsOptions, runner_id: str, wait: bool) -> int:
    nc = await nats.connect(**connect_options(url, options, "coderunner-drain"),
                            allow_reconnect=False, connect_timeout=2)
    try:
        while True:
            try:
                reply = await nc.request(subjects.runner_drain(runner_id), b"", timeout=REPLY_S)
            except nats.errors.NoRespondersError:
                print(f"coderunner runner drain: no runner {runner_id!r} answers",
                      file=sys.stderr)
                return 1
            running = drain_reply_decoder.decode(reply.data).running
            print(f"runner {runner_id} takes no more jobs; {running} still running", flush=True)
            if not wait or running == 0:
                return 0
            await asyncio.sleep(ASK_EVERY_S)
    finally:
        await nc.close()


def main(url: str, runner_id: str, wait: bool) -> int:
    try:
        return asyncio.run(drain(url, NatsOptions.from_env(), runner_id, wait))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(f"coderunner runner drain: cannot reach NATS at {url}: {exc}", file=sys.stderr)
        return 1

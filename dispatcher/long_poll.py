"""A dispatcher's long poll on one priority's queue: each job is handed over as it arrives.

One pull request is open at a time, for up to ``batch`` jobs, opened once the dispatcher has
taken every job that arrived: with ``no_wait`` and ``expires``, nats-server waits up to
``expires_s`` for a first job, then sends every job it has at once and ends the request (a
404 status; 408 when none came; none when the batch's last job ended it). ``take`` hands over
an answer's jobs together, as soon as the answer is in. While the dispatcher is busy no
request is open: jobs wait in the stream and come together with the next request.

nats-py's ``fetch(batch)``, used before, waited on one of its paths (when the first answer it
read was a status) until the batch was full or its timeout over: with two dispatchers at
1 000 jobs/s jobs waited up to 100 ms in a half-full batch, and with few jobs a socket job
waited seconds while a notebook cell fetched after it ran first (docs/scale-out.md).

Jobs are kept, in arrival order, from the subscription's callback until taken: a ``take``
cancelled while it waits loses none, and ``close`` returns those not taken, to be given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts.subjects import consumer_next

LATE_S = 1.0
"""How long after its expiry a request is still waited for: one that never ended (NATS
reconnected meanwhile, and the server forgot it) is taken as ended then."""
ENDED = ("404", "408")
"""Statuses that end a request as planned: no job came (408, or 404 to a request that may not
wait); any other (409: the consumer was deleted, or its leader changed) is a ``PollError``."""
HEARTBEAT = "100"
GATHER_S = 0.002
"""How long ``take`` waits, once a job came, for the rest of the request's answer (nats-server
sends it at once, then the status that ends it): the jobs of one answer are taken together."""


class PollError(Exception):
    """nats-server ended a pull request with an error."""


class LongPoll:
    def __init__(self, nc: Client, stream: str, consumer: str, batch: int,
                 expires_s: float) -> None:
        self._nc = nc
        self._next = consumer_next(stream, consumer)
        self._inbox = nc.new_inbox()
        self._batch = batch
        self._expires_s = expires_s
        self._sub: Subscription | None = None
        self._jobs: list[Msg] = []
        self._arrived = asyncio.Event()
        self._due = 0
        """Jobs the open request may still bring."""
        self._open_until = 0.0
        """When the open request is taken as ended (monotonic); 0: none is open."""
        self._problem: str | None = None
        self._closed = False

    async def start(self) -> LongPoll:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._arrive)
        return self

    async def take(self) -> list[Msg]:
        """The jobs that arrived and were not taken yet or, when there are none, the first to
        arrive within ``expires_s`` with any that came with it; ``[]`` when none came."""
        give_up = time.monotonic() + self._expires_s
        while not self._jobs and not self._closed:
            if self._problem is not None:
                problem, self._problem = self._problem, None
                raise PollError(problem)
            now = time.monotonic()
            if now >= give_up:
                break
            self._arrived.clear()  # before the request: what it brings at once sets it
            if now >= self._open_until:
                await self._request()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(),
                                       max(0.0, min(give_up, self._open_until) - now))
        if self._jobs and time.monotonic() < self._open_until:  # the rest of its answer
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended(), GATHER_S)
        jobs, self._jobs = self._jobs, []
        return jobs

    async def _ended(self) -> None:
        while time.monotonic() < self._open_until:
            await self._arrived.wait()
            self._arrived.clear()

    def lost(self) -> None:
        """NATS reconnected: the open request may be forgotten; the next ``take`` opens one
        (another still open at the server only brings its jobs here too)."""
        self._open_until = 0.0
        self._arrived.set()

    async def close(self) -> list[Msg]:
        """Stop polling and return the jobs that arrived and were not taken: the subscription
        is drained (nats-server stops sending, and what it sent before arrives)."""
        self._closed = True
        self._arrived.set()
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._sub.drain()  # type: ignore[no-untyped-call]
        jobs, self._jobs = self._jobs, []
        return jobs

    async def _request(self) -> None:
        self._due = self._batch
        self._open_until = time.monotonic() + self._expires_s + LATE_S
        request = {"batch": self._batch, "expires": int(self._expires_s * 1e9), "no_wait": True}
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)

    async def _arrive(self, msg: Msg) -> None:
        if msg.reply:  # a job: JetStream's ack subject
            self._jobs.append(msg)
            self._due -= 1
            if self._due <= 0:
                self._open_until = 0.0
            self._arrived.set()
            return
        status = (msg.headers or {}).get("Status")
        if status is None or status == HEARTBEAT:  # not the end of a request
            return
        self._open_until = 0.0
        if status not in ENDED:
            description = (msg.headers or {}).get("Description", "")
            self._problem = f"{status} {description}".strip()
        self._arrived.set()

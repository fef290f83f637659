"""What really ran, as it happened: a core-NATS subscriber (not JetStream, which drops a
re-published completion by its ``Nats-Msg-Id``) that sees every ``running`` status and every
completion any runner or dispatcher publishes. A job run twice shows as two starts and two
completed runs here, whatever the COMPLETIONS stream keeps. A run is told by its claim (the
completion's ``claimed_at``): a relay asked again through a NATS outage may publish one run's
completion twice (the stream keeps one; every consumer counts an execution once), which is not
a second run.

Used by every test that claims "exactly once": open it before the first submission, and
after the last completion call ``settled()`` (the JOBS and RUN streams are empty, so no job is
left to be redelivered) before reading the counts."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from contracts import subjects
from contracts.messages import StatusEvent, completion_decoder, event_decoder

SETTLE_TIMEOUT_S = 120.0


class RunsSeen:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self.subscription: Subscription | None = None
        self.starts: Counter[str] = Counter()
        """Execution id → ``running`` statuses published (one per run that began)."""
        self.claims: defaultdict[str, set[float]] = defaultdict(set)
        """Execution id → the claims (``claimed_at``) of its runs whose completion was
        published (a run's completion published again is one claim)."""
        self.ended: Counter[str] = Counter()
        """Execution id → runs a runner ended and asked a dispatcher to complete (one that
        was moved off its runner meanwhile is refused: counted here, not in ``completions``)."""
        self.requests: Subscription | None = None

    async def on_request(self, msg: Msg) -> None:
        self.ended[subjects.runner_and_execution(msg.subject)[1]] += 1

    async def on_msg(self, msg: Msg) -> None:
        if subjects.is_completion(msg.subject):
            completion = completion_decoder.decode(msg.data)
            self.claims[completion.execution_id].add(completion.claimed_at)
        elif subjects.is_event(msg.subject):
            try:
                event = event_decoder.decode(msg.data)
            except msgspec.ValidationError:
                return
            if isinstance(event, StatusEvent) and event.status == "running":
                self.starts[event.execution_id] += 1

    async def settled(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Wait until no job is left on the JOBS, SEATS or RUN stream (each is removed when
        acked, after its completion): nothing can be redelivered and run again after this."""
        js = self._nc.jetstream()
        deadline = asyncio.get_running_loop().time() + timeout_s
        left: dict[str, int] | str = {}
        while True:
            try:
                left = {name: (await js.stream_info(name)).state.messages
                        for name in (subjects.JOBS_STREAM, subjects.SEATS_STREAM,
                                     subjects.RUN_STREAM)}
                if not any(left.values()):
                    break
            except (nats.errors.Error, nats.js.errors.Error) as exc:  # a cluster electing
                left = repr(exc)
            assert asyncio.get_running_loop().time() < deadline, f"jobs left: {left}"
            await asyncio.sleep(0.2)
        await self._nc.flush()  # whatever was published before is in our callback's queue now
        for subscription in (self.subscription, self.requests):
            while subscription is not None and subscription.pending_msgs:
                await asyncio.sleep(0.05)

    @property
    def completions(self) -> Counter[str]:
        """Execution id → runs whose completion was published."""
        return Counter({i: len(claims) for i, claims in self.claims.items()})

    def twice(self, ids: Iterable[str], starts: int = 1) -> dict[str, tuple[int, int]]:
        """Of ``ids``, those that began more than ``starts`` times or completed more than
        once: execution id → (starts, runs completed)."""
        completed = self.completions
        return {i: (self.starts[i], completed[i]) for i in ids
                if self.starts[i] > starts or completed[i] > 1}

    async def assert_once(self, ids: Iterable[str], began: bool = True) -> None:
        """After ``settled()``: each of ``ids`` began once (``began``: jobs a runner ran; not
        those expired or cancelled in the queue) and completed once."""
        await self.settled()
        ids = list(ids)
        completed = self.completions
        seen = {i: (self.starts[i], completed[i]) for i in ids}
        assert seen == {i: (int(began), 1) for i in ids}, {
            i: counts for i, counts in seen.items() if counts != (int(began), 1)}


@asynccontextmanager
async def runs_seen(nats_url: str) -> AsyncIterator[RunsSeen]:
    """Count starts and completions on ``nats_url`` (any node of a cluster) meanwhile."""
    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    seen = RunsSeen(nc)
    try:
        seen.subscription = await nc.subscribe(subjects.everything_of("*"), cb=seen.on_msg)
        seen.requests = await nc.subscribe(subjects.RUNNER_COMPLETIONS, cb=seen.on_request)
        await nc.flush()
        yield seen
    finally:
        await nc.close()

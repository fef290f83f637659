"""An edge puts a plain job straight on a free seat while no job waits (``edge/seat_map.py``):
the job's message on ``seats.<runner>.<n>`` under its execution id, then ``released.<id>``, as
a dispatcher releases one. The runner claims it from its seat as any other; every dispatcher
hears the release and counts the seat held; the dispatcher relaying the completion finds the
job on that seat under that id.

A seat found held is refused by the stream ("discard new per subject"), and runners drawn may
show no free seat: another is tried, up to ``TRIES`` in all, then the job goes to the queue. A
publish whose outcome is unknown (no answer in time) is sent again as it was: the stream keeps
one copy of an execution id, so a job stored the first time is taken for stored, never sent to
the queue as well (it would run twice).
"""

from __future__ import annotations

import logging
import time

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg

from contracts import subjects
from contracts.messages import Job, encode, placement_state_decoder, runner_info_decoder
from contracts.nats_options import MAXIMUM_MESSAGES_EXCEEDED
from edge.nats_connection import NatsConnection, NotReady
from edge.runner_heartbeats import RunnerHeartbeats
from edge.seat_map import SeatMap, placeable

log = logging.getLogger(__name__)
TRIES = 8
"""Seats tried (or draws of runners that showed none free) for one job before it goes to the
queue."""
SENDS = 3
"""Times one seat's publish is sent when no answer comes."""
SEND_TIMEOUT_S = 2.0


class SeatTaken(Exception):
    """The seat holds another job: this one did not go there."""


class NotStored(Exception):
    """The stream refused the job for another reason than a full seat: it is not there."""


class SeatPlacement:
    def __init__(self, connection: NatsConnection, seat_map: SeatMap | None = None) -> None:
        self.connection = connection
        self.map = seat_map or SeatMap()
        self.placed = 0
        """Jobs this edge put straight on seats."""
        self.refused = 0
        """Seats the stream refused it (held by a job it had not heard of): another was tried."""

    async def start(self) -> None:
        """Follow the runners, the releases and the dispatchers' states (plain subscriptions:
        they survive reconnects), then read the runners alive now. Completions come from the
        edge's own subscription to them (``completed``): every completion carries its output,
        and a second subscription would bring each one to the edge twice."""
        nc = self.connection.client
        await nc.subscribe(subjects.heartbeats(), cb=self._on_heartbeat)
        await nc.subscribe(subjects.RELEASED_ALL, cb=self._on_released)
        await nc.subscribe(subjects.PLACEMENT_STATE, cb=self._on_state)
        now = time.monotonic()
        for info in await RunnerHeartbeats(self.connection).alive():
            self.map.heartbeat(info, now - max(0.0, time.time() - info.at))

    async def _on_heartbeat(self, msg: Msg) -> None:
        runner_id = subjects.runner_of_heartbeat(msg.subject)
        if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE"):
            self.map.gone(runner_id)
            return
        try:
            self.map.heartbeat(runner_info_decoder.decode(msg.data), time.monotonic())
        except msgspec.DecodeError:
            log.warning("ignoring a malformed heartbeat of %s", runner_id)

    async def _on_released(self, msg: Msg) -> None:
        token, _, seat = msg.data.decode(errors="replace").partition(" ")
        if seat.isdigit():
            self.map.released(subjects.execution_of_release(msg.subject), token, int(seat),
                              time.monotonic())

    def completed(self, execution_id: str) -> None:
        """A job completed: its seat is free (the dispatcher relaying it emptied it first)."""
        self.map.completed(execution_id)

    async def _on_state(self, msg: Msg) -> None:
        try:
            self.map.state(placement_state_decoder.decode(msg.data), time.monotonic())
        except msgspec.DecodeError:
            log.warning("ignoring a malformed placement state")

    async def place(self, job: Job) -> bool:
        """Put the job on a free seat when it may go straight; False when it did not go (it
        goes to the queue). Raises ``NotReady`` when a seat never answered (the job may be on
        it: sending it to the queue as well could run it twice)."""
        now = time.monotonic()
        if not placeable(job) or not self.map.may_place(now):
            return False
        for _ in range(TRIES):
            choice = self.map.choose(job.runtime, job.owner, now)
            if choice is None:
                continue  # none free among the runners drawn: others are drawn
            runner, seat = choice
            try:
                await self._put(job, runner, seat)
            except SeatTaken:
                self.refused += 1
                self.map.refused(runner, seat, time.monotonic())
                continue
            except NotStored as exc:
                log.warning("putting %s on a seat failed: %s; it goes to the queue",
                            job.execution_id, exc)
                return False
            self.map.placed(job.execution_id, job.owner, runner, seat, time.monotonic())
            await self.connection.client.publish(
                subjects.released(job.execution_id),
                f"{subjects.runner_token(runner)} {seat}".encode())
            self.placed += 1
            return True
        return False

    async def _put(self, job: Job, runner: str, seat: int) -> None:
        """Publish the job on the seat; ``SeatTaken`` when it holds another, ``NotStored`` when
        the stream refused it otherwise (or none answers on that subject), ``NotReady`` when
        no answer came ``SENDS`` times."""
        data = encode(job)
        headers = {"Nats-Msg-Id": job.execution_id, subjects.ATTEMPT_HEADER: "0"}
        for send in range(1, SENDS + 1):
            try:
                await self.connection.jetstream.publish(
                    subjects.seat(runner, seat), data, headers=headers,
                    timeout=SEND_TIMEOUT_S)
                return
            except nats.js.errors.APIError as exc:
                if exc.err_code == MAXIMUM_MESSAGES_EXCEEDED:
                    raise SeatTaken(runner, seat) from exc
                raise NotStored(exc.description) from exc
            except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError) as exc:
                raise NotStored("no stream takes seats") from exc
            except nats.errors.TimeoutError as exc:
                if send == SENDS:
                    raise NotReady("the queue did not answer in time") from exc

"""A small WebSocket client for tests: submit programs, collect their events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import nats.js.errors
import websockets
from websockets.asyncio.client import ClientConnection

from contracts import subjects

Event = dict[str, Any]


@dataclass
class Result:
    execution_id: str
    events: list[Event] = field(default_factory=list)

    @property
    def completion(self) -> Event:
        return self.events[-1]

    @property
    def verdict(self) -> str:
        return str(self.completion["verdict"])

    def text(self, stream: str) -> str:
        return "".join(e["data"] for e in self.events
                       if e["type"] == "output" and e["stream"] == stream)

    @property
    def stdout(self) -> str:
        return self.text("stdout")

    @property
    def stderr(self) -> str:
        return self.text("stderr")


class Client:
    def __init__(self, ws: ClientConnection, session: Event) -> None:
        self.ws = ws
        self.session = session
        """The ``session`` event the edge sends first: sessionId, token, resumed."""
        self.pending: list[Event] = []

    @classmethod
    async def connect(cls, url: str, token: str | None = None) -> Client:
        if token:
            url = f"{url}?token={token}"
        ws = await websockets.connect(url, max_size=16 * 1024 * 1024)
        session = json.loads(await ws.recv())
        assert session["type"] == "session", session
        return cls(ws, session)

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self) -> Event:
        if self.pending:
            return self.pending.pop(0)
        return json.loads(await self.ws.recv())  # type: ignore[no-any-return]

    async def read_until(self, done: Callable[[Event], bool]) -> None:
        """Read events until ``done`` says so of one; every event read is kept for later
        readers (``collect``), in order."""
        read: list[Event] = []
        while True:
            event = await self.receive()
            read.append(event)
            if done(event):
                self.pending = read + self.pending
                return

    async def submit(self, files: dict[str, str], main: str | None = None,
                     language: str = "python", request_id: str = "r", **extra: Any) -> Event:
        """Send execute_code; returns the first answer (``status: queued`` or an error)."""
        frame = {"type": "execute_code", "requestId": request_id, "language": language,
                 "files": [{"name": n, "content": c} for n, c in files.items()],
                 "mainFile": main or next(iter(files)), **extra}
        await self.send(frame)
        skipped: list[Event] = []
        while True:
            event = await self.receive()
            if event.get("requestId") == request_id or event["type"] == "error":
                self.pending = skipped + self.pending  # others' events, for later readers
                return event
            skipped.append(event)

    async def collect(self, execution_id: str) -> Result:
        """Every event of one execution until its completion (others are kept for later)."""
        result = Result(execution_id)
        skipped: list[Event] = []
        while True:
            event = await self.receive()
            if event.get("executionId") != execution_id:
                skipped.append(event)
                continue
            result.events.append(event)
            if event["type"] == "completion":
                self.pending = skipped + self.pending
                return result

    async def run(self, files: dict[str, str], main: str | None = None,
                  language: str = "python", **extra: Any) -> Result:
        queued = await self.submit(files, main, language, **extra)
        assert queued["type"] == "status", queued
        result = await self.collect(queued["executionId"])
        result.events.insert(0, queued)
        return result


async def stored_completion(nats_url: str, execution_id: str, wait_s: float = 0.0) -> bytes:
    """The completion kept on JetStream for ``execution_id``, waiting up to ``wait_s`` for it:
    what a late subscriber would read."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                stored = await js.get_last_msg(
                    subjects.COMPLETIONS_STREAM, subjects.completed(execution_id)
                )
                return bytes(stored.data or b"")
            except nats.js.errors.NotFoundError:
                if asyncio.get_running_loop().time() >= deadline:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await nc.close()


async def completion_count(nats_url: str, execution_id: str) -> int:
    """How many completions the COMPLETIONS stream holds for ``execution_id`` (should be 1).
    The stream de-duplicates by execution id, so this shows a missing completion, never a second
    run: count those with ``tests/runs_seen.py``."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(
            subjects.COMPLETIONS_STREAM, subjects_filter=subjects.completed(execution_id))
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()

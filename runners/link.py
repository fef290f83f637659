"""The runner's end of the agent protocol: JSON lines over a container's attach stream.

Docker multiplexes a non-TTY attach stream into frames with an 8-byte header (stream id, three
zero bytes, big-endian length). Frames on stdout carry the agent's events; frames on stderr are
the agent's own diagnostics and are logged, never trusted as events. Each line is decoded
once, when it is taken, into its typed event (runners/agent_messages.py); a line that is none,
or one too long, ends the link (``AgentMisbehaved``): nothing more is read from that agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from runners.agent_messages import (
    MAX_EVENT_BYTES,
    AgentEvent,
    AgentRequest,
    BadAgentMessage,
    decode_event,
    encode_request,
)

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxI")
MAX_QUEUED_BYTES = 32 * 1024 * 1024
"""Lines read from an agent and not yet taken, at most (plus one frame): past it the link stops
reading, so that a flood nobody takes (a notebook's kernel bridge printing between cells, say)
holds up the agent's own stream, never the runner's memory. Lines wait as bytes and are decoded
when taken (a decoded event may be 20 times its line)."""


class AgentGone(Exception):
    """The sandbox agent stopped answering or its stream ended."""


class AgentMisbehaved(AgentGone):
    """The agent sent a line that is none of its events (or one too long): nothing more is read
    from it, and it counts as gone."""


class AgentLink:
    """Commands to one agent and the events it sends back, in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str):
        self._reader = reader
        self._writer = writer
        self._name = name
        self._events: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._room = asyncio.Event()
        self._room.set()
        self._fault: BadAgentMessage | None = None
        self._pump = asyncio.create_task(self._read_frames(), name=f"agent-link-{name}")
        self.closed = False

    async def send(self, command: AgentRequest, timeout: float | None = None) -> None:
        """Write a command and wait until the stream takes it; AgentGone when the stream is
        gone or does not take it within ``timeout`` (an agent that stopped reading)."""
        self.write_now(command)
        try:
            await asyncio.wait_for(self._writer.drain(), timeout)
        except (ConnectionError, OSError) as exc:
            raise AgentGone(str(exc)) from exc
        except TimeoutError:
            raise AgentGone(f"agent of {self._name} took no command in {timeout} s") from None

    def write_now(self, command: AgentRequest) -> None:
        """Queue a command without waiting: for control (stop, stdin), which must never wait
        behind an agent that reads slowly. Whoever calls it bounds what it queues."""
        if self.closed:
            raise AgentGone(f"agent of {self._name} is gone")
        self._writer.write(encode_request(command))

    async def next_event(self, timeout: float | None = None) -> AgentEvent:
        """The next event; raises AgentGone on end of stream or when ``timeout`` passes."""
        event = await self.event_within(timeout)
        if event is None:
            raise AgentGone(f"agent of {self._name} did not answer in {timeout} s")
        return event

    async def event_within(self, timeout: float | None) -> AgentEvent | None:
        """The next event, or None when none came within ``timeout``; AgentGone at the end of
        the stream, AgentMisbehaved after a line that is no event."""
        try:
            item = self._events.get_nowait()
        except asyncio.QueueEmpty:
            try:
                wait = None if timeout is None else max(0.001, timeout)
                item = await asyncio.wait_for(self._events.get(), wait)
            except TimeoutError:
                return None
        if item is None:
            self._events.put_nowait(None)  # keep reporting the end to later readers
            if self._fault is not None:
                raise AgentMisbehaved(f"agent of {self._name} sent {self._fault}")
            raise AgentGone(f"agent of {self._name} closed its stream")
        self._queued_bytes -= len(item)
        if self._queued_bytes <= MAX_QUEUED_BYTES:
            self._room.set()
        try:
            return decode_event(item)
        except BadAgentMessage as exc:
            self._misbehaved(exc)
            raise AgentMisbehaved(f"agent of {self._name} sent {exc}") from None

    def _misbehaved(self, fault: BadAgentMessage) -> None:
        """Nothing more is read from, or taken of, an agent that sent ``fault``."""
        log.warning("agent %s sent %s: no longer read", self._name, fault)
        self._fault, self.closed = fault, True
        self._pump.cancel()
        while not self._events.empty():
            self._events.get_nowait()
        self._events.put_nowait(None)

    @property
    def backlog_bytes(self) -> int:
        """Bytes of events read from the agent and not yet taken."""
        return self._queued_bytes

    async def close(self) -> None:
        self.closed = True
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def _read_frames(self) -> None:
        line = bytearray()
        try:
            while True:
                await self._room.wait()
                header = await self._reader.readexactly(_HEADER.size)
                stream, size = _HEADER.unpack(header)
                payload = await self._reader.readexactly(size)
                if stream == 2:
                    log.warning("agent %s: %s", self._name, payload.decode(errors="replace"))
                    continue
                line += payload
                if b"\n" in payload:  # else only the length can have changed
                    self._split_lines(line)
                elif len(line) > MAX_EVENT_BYTES:
                    raise BadAgentMessage(f"a line longer than {MAX_EVENT_BYTES} bytes")
        except BadAgentMessage as exc:
            log.warning("agent %s sent %s: no longer read", self._name, exc)
            self._fault = exc
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            log.debug("agent link %s ended: %r", self._name, exc)
        finally:
            self.closed = True
            self._events.put_nowait(None)

    def _split_lines(self, buffer: bytearray) -> None:
        while (end := buffer.find(b"\n")) >= 0:
            raw = bytes(buffer[:end])
            del buffer[: end + 1]
            if raw:
                self._events.put_nowait(raw)
                self._queued_bytes += len(raw)
        if self._queued_bytes > MAX_QUEUED_BYTES:
            self._room.clear()
        if len(buffer) > MAX_EVENT_BYTES:
            raise BadAgentMessage(f"a line longer than {MAX_EVENT_BYTES} bytes")

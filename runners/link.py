"""The runner's end of the agent protocol: JSON lines over a container's attach stream.

Docker multiplexes a non-TTY attach stream into frames with an 8-byte header (stream id, three
zero bytes, big-endian length). Frames on stdout carry the agent's events; frames on stderr are
the agent's own diagnostics and are logged, never trusted as events. Each line is decoded
once into its typed event (runners/agent_messages.py); a line that is none, or one too long,
ends the link (``AgentMisbehaved``): nothing more is read from that agent.
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
        self._events: asyncio.Queue[AgentEvent | None] = asyncio.Queue()
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
            event = self._events.get_nowait()
        except asyncio.QueueEmpty:
            try:
                wait = None if timeout is None else max(0.001, timeout)
                event = await asyncio.wait_for(self._events.get(), wait)
            except TimeoutError:
                return None
        if event is None:
            self._events.put_nowait(None)  # keep reporting the end to later readers
            if self._fault is not None:
                raise AgentMisbehaved(f"agent of {self._name} sent {self._fault}")
            raise AgentGone(f"agent of {self._name} closed its stream")
        return event

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
                header = await self._reader.readexactly(_HEADER.size)
                stream, size = _HEADER.unpack(header)
                payload = await self._reader.readexactly(size)
                if stream == 2:
                    log.warning("agent %s: %s", self._name, payload.decode(errors="replace"))
                    continue
                line += payload
                self._split_lines(line)
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
            if raw.strip():
                self._events.put_nowait(decode_event(raw))
        if len(buffer) > MAX_EVENT_BYTES:
            raise BadAgentMessage(f"a line longer than {MAX_EVENT_BYTES} bytes")

"""What the edge says to the runners about language servers (``subjects.lsp_start``,
``lsp_in``, ``lsp_out``): start one, pass a browser's message or a stop on, hear its events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec
import nats.errors
from nats.aio.msg import Msg

from contracts import subjects
from contracts.language_servers import (
    LspCommand,
    LspReply,
    LspServer,
    LspStart,
    LspStop,
    lsp_reply_decoder,
)
from edge.nats_connection import NatsConnection

START_TIMEOUT_S = 5.0
"""How long the edge waits for a runner to take a server (it answers before it starts it)."""
START_WAIT_S = 5.0
START_RETRY_S = 0.25
SEND_TIMEOUT_S = 2.0
"""How long the edge waits for the runner holding a server to queue a message."""
PENDING_BYTES = 64 * 1024 * 1024
"""What a server's events may hold unsent on this edge (the socket's own queue bounds it too)."""


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class LanguageServerCommands:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def start(self, start: LspStart) -> LspReply | None:
        """One runner that has the server takes it; None when none answered for
        ``START_WAIT_S`` (a runner that is starting, or restarting, subscribes within it).
        A runner that is ``full`` is asked again for as long: each ask goes to one runner of
        the queue group, at random, and another may have room."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_WAIT_S
        while True:
            reply = await self._ask(subjects.lsp_start(start.server), msgspec.json.encode(start),
                                    START_TIMEOUT_S, start.server)
            if (reply is not None and not reply.full) or loop.time() >= deadline:
                return reply
            await asyncio.sleep(START_RETRY_S)

    async def send(self, key: str, command: LspCommand, server: LspServer) -> LspReply | None:
        """Hand a command to the runner holding server ``key``; None when none holds it."""
        return await self._ask(subjects.lsp_in(key), msgspec.json.encode(command),
                               SEND_TIMEOUT_S, server)

    async def stop(self, key: str) -> None:
        """Stop server ``key`` without waiting (its socket is gone)."""
        await self._connection.client.publish(subjects.lsp_in(key), msgspec.json.encode(LspStop()))

    async def listen(self, key: str, on_event: Callable[[bytes], Awaitable[None]]
                     ) -> Subscription:
        """Hear server ``key``'s events (ready-encoded socket events), in order."""

        async def on_msg(msg: Msg) -> None:
            await on_event(msg.data)

        return await self._connection.client.subscribe(
            subjects.lsp_out(key), cb=on_msg, pending_bytes_limit=PENDING_BYTES)

    async def _ask(self, subject: str, data: bytes, timeout_s: float,
                   server: LspServer) -> LspReply | None:
        try:
            msg = await self._connection.client.request(subject, data, timeout=timeout_s)
        except nats.errors.NoRespondersError:
            return None
        except nats.errors.TimeoutError:
            return LspReply(False, f"no runner answered for the {server} language server within "
                            f"{timeout_s} s")
        return lsp_reply_decoder.decode(msg.data)

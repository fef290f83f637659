"""A socket's language servers (docs/language-servers.md): its ``lsp`` frames passed on to the
runner holding each server, that server's events sent back.

Each ``initialize`` starts a server under a new key (``lsp_key`` of the owner, this socket and
a count): the socket's earlier server of that kind is stopped first, so two never answer the
same browser. Other messages go to the running one; with none running (never started, idle,
crashed, its runner gone) the browser is told ``lsp_state`` ``stopped``. When the socket
closes, its servers are stopped.

A socket's ``lsp`` frames are handled in order by one task of their own, fed by a bounded
queue (``MAX_PENDING_FRAMES``): a start takes seconds, and the socket's other frames (a stop,
say) must not wait behind it. An ``initialize`` of a kind comes at most every
``RESTART_INTERVAL_S`` per socket (each starts a sandbox); sooner is ``unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from contracts.language_servers import (
    LSP_MAX_MESSAGE_BYTES,
    JsonRpcEnvelope,
    LspFrame,
    LspServer,
    LspStart,
    LspState,
    LspStateEvent,
    LspToServer,
    envelope_decoder,
    lsp_key,
)
from edge.language_server_commands import LanguageServerCommands, Subscription

log = logging.getLogger(__name__)
MAX_PENDING_FRAMES = 256
"""``lsp`` frames a socket may have waiting (behind a start, say); past it one is refused."""
RESTART_INTERVAL_S = 3.0
"""The least time between two ``initialize`` of one kind of server on one socket."""

Send = Callable[[str], None]
Refuse = Callable[[str, str], None]
"""An error event for the browser: its code and message."""


@dataclass
class Started:
    key: str
    events: Subscription


class SocketLanguageServers:
    def __init__(self, commands: LanguageServerCommands, owner: str, send: Send,
                 refuse: Refuse, clock: Callable[[], float] = time.monotonic) -> None:
        self._commands = commands
        self._owner = owner
        self._send = send
        self._refuse = refuse
        self._socket_id = secrets.token_hex(8)
        self._starts = 0
        self._servers: dict[LspServer, Started] = {}
        self._clock = clock
        self._last_start: dict[LspServer, float] = {}
        self._frames: asyncio.Queue[LspFrame] = asyncio.Queue(MAX_PENDING_FRAMES)
        self._worker: asyncio.Task[None] | None = None

    def submit(self, frame: LspFrame) -> None:
        """Queue a frame for this socket's lsp task (started on the first); never waits."""
        try:
            self._frames.put_nowait(frame)
        except asyncio.QueueFull:
            self._refuse("lsp_refused", f"{MAX_PENDING_FRAMES} lsp messages are waiting on this "
                         "socket already: this one was dropped")
            return
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="lsp-frames")

    async def _work(self) -> None:
        while True:
            frame = await self._frames.get()
            try:
                await self.forward(frame)
            except Exception:  # NATS reconnecting, say: the next frame is tried anyway
                log.exception("an lsp frame failed")
                self._refuse("lsp_refused", f"the {frame.server} language server's message "
                             "could not be passed on")

    async def forward(self, frame: LspFrame) -> None:
        envelope = self._envelope(frame)
        if envelope is None:
            return
        if envelope.method == "initialize":
            if not self._may_start(frame.server) or not await self._start(frame.server):
                return
        started = self._servers.get(frame.server)
        if started is None:
            self._state(frame.server, "stopped", f"no {frame.server} language server runs for "
                        "this socket: send initialize to start one")
            return
        reply = await self._commands.send(started.key, LspToServer(frame.message), frame.server)
        if reply is None:
            await self._forget(frame.server)
            self._state(frame.server, "stopped", f"the {frame.server} language server is no "
                        "longer running: send initialize to start it again")
        elif not reply.accepted:
            self._refuse("lsp_refused", reply.message)

    def _envelope(self, frame: LspFrame) -> JsonRpcEnvelope | None:
        """The message's JSON-RPC envelope, or None (refused, with an error) for a message
        over the size limit or one that is no JSON-RPC 2.0 object."""
        size = len(frame.message)
        if size > LSP_MAX_MESSAGE_BYTES:
            self._refuse("invalid_request", f"an lsp message of {size} bytes: at most "
                         f"{LSP_MAX_MESSAGE_BYTES}")
            return None
        try:
            envelope = envelope_decoder.decode(frame.message)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self._refuse("invalid_request", f"an lsp message must be a JSON-RPC 2.0 object: "
                         f"{exc}")
            return None
        if envelope.method is None and envelope.id is None:
            self._refuse("invalid_request", "an lsp message must have a method or an id")
            return None
        return envelope

    def _may_start(self, server: LspServer) -> bool:
        """False (told ``unavailable``) for an ``initialize`` within ``RESTART_INTERVAL_S``
        of the last of this kind."""
        now = self._clock()
        last = self._last_start.get(server)
        if last is not None and now - last < RESTART_INTERVAL_S:
            self._state(server, "unavailable", f"the {server} language server was started "
                        f"less than {RESTART_INTERVAL_S:g} s ago: wait before starting it again")
            return False
        self._last_start[server] = now
        return True

    async def _start(self, server: LspServer) -> bool:
        """A new server of this kind for the socket; False (told) when none could be had."""
        await self._forget(server)
        self._starts += 1
        key = lsp_key(self._owner, f"{self._socket_id}.{self._starts}", server)
        events = await self._commands.listen(key, self._on_event)
        try:
            reply = await self._commands.start(LspStart(key, self._owner, server))
        except asyncio.CancelledError:  # the socket closed meanwhile
            with contextlib.suppress(Exception):
                await self._commands.stop(key)
                await events.unsubscribe()
            raise
        if reply is None or not reply.accepted:
            if reply is not None:  # a runner that answers late still takes it: stop it there
                await self._commands.stop(key)
            await events.unsubscribe()
            self._state(server, "unavailable", reply.message if reply else
                        f"no runner of this platform runs the {server} language server")
            return False
        self._servers[server] = Started(key, events)
        return True

    async def _on_event(self, data: bytes) -> None:
        self._send(data.decode())

    async def _forget(self, server: LspServer) -> None:
        """Stop the socket's server of this kind, if any, and stop hearing it."""
        started = self._servers.pop(server, None)
        if started is not None:
            await self._commands.stop(started.key)
            await started.events.unsubscribe()

    def _state(self, server: LspServer, state: LspState, message: str) -> None:
        self._send(msgspec.json.encode(LspStateEvent(server, state, message)).decode())

    async def close(self) -> None:
        """Stop the lsp task and every server (one that fails to stop spares the others)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        for server in list(self._servers):
            try:
                await self._forget(server)
            except Exception as exc:  # NATS gone: its runner stops it when idle
                log.warning("stopping the %s language server failed: %s", server, exc)

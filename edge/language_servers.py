"""A socket's language servers (docs/language-servers.md): its ``lsp`` frames passed on to the
runner holding each server, that server's events sent back.

Each ``initialize`` starts a server under a new key (``lsp_key`` of the owner, this socket and
a count): the socket's earlier server of that kind is stopped first, so two never answer the
same browser. Other messages go to the running one; with none running (never started, idle,
crashed, its runner gone) the browser is told ``lsp_state`` ``stopped``. When the socket
closes, its servers are stopped.
"""

from __future__ import annotations

import secrets
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

Send = Callable[[str], None]
Refuse = Callable[[str, str], None]
"""An error event for the browser: its code and message."""


@dataclass
class Started:
    key: str
    events: Subscription


class SocketLanguageServers:
    def __init__(self, commands: LanguageServerCommands, owner: str, send: Send,
                 refuse: Refuse) -> None:
        self._commands = commands
        self._owner = owner
        self._send = send
        self._refuse = refuse
        self._socket_id = secrets.token_hex(8)
        self._starts = 0
        self._servers: dict[LspServer, Started] = {}

    async def forward(self, frame: LspFrame) -> None:
        envelope = self._envelope(frame)
        if envelope is None:
            return
        if envelope.method == "initialize":
            if not await self._start(frame.server):
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

    async def _start(self, server: LspServer) -> bool:
        """A new server of this kind for the socket; False (told) when none could be had."""
        await self._forget(server)
        self._starts += 1
        key = lsp_key(self._owner, f"{self._socket_id}.{self._starts}", server)
        events = await self._commands.listen(key, self._on_event)
        reply = await self._commands.start(LspStart(key, self._owner, server))
        if reply is None or not reply.accepted:
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
        for server in list(self._servers):
            await self._forget(server)

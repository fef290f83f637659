"""Language servers on this runner (docs/language-servers.md): a sandbox per server, its
messages bridged to the socket that started it.

A browser's ``initialize`` reaches one runner that has the server's image (``lsp.start``): it
answers at once, subscribes to the server's ``lsp.in.<key>``, and starts a sandbox of the
session's kind in the background (no network, non-root, read-only image, the limits of a
notebook's kernel). The agent starts the bridge (runners/agent/agent_lsp.py) as the sandbox
user, the bridge starts the server and turns LSP's ``Content-Length`` framing into lines. Every
line is checked here before it is published to the socket (``relayed``): a JSON-RPC object
within ``LSP_MAX_SERVER_MESSAGE_BYTES``. The browser's messages are queued in order (at most
``MAX_QUEUED``) while the server starts. A server ends on ``LspStop`` (its socket closed), after
``idle_s`` without a message of its browser, ``max_lifetime_s`` after it was taken, or when
its process or sandbox ends; each end is told as ``lsp_state`` ``stopped``.

A runner holds at most ``max_servers`` servers, and ``max_per_owner`` of one owner; past
either an ``initialize`` is refused (``full`` past the first: the edge asks another runner).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from contracts.language_servers import (
    LSP_INTERNAL_ERROR,
    LSP_MAX_SERVER_MESSAGE_BYTES,
    LspCommand,
    LspEvent,
    LspReply,
    LspServer,
    LspStart,
    LspState,
    LspStateEvent,
    LspStop,
    LspToServer,
)
from runners import agent_messages as agent
from runners.link import AgentGone
from runners.sandbox import Sandbox, SandboxError

log = logging.getLogger(__name__)
BRIDGE = ["python3", "-I", "/opt/coderunner/agent_lsp.py"]
SERVER_RUNTIMES: dict[LspServer, str] = {"python": "python", "typescript": "typescript",
                                         "cpp": "cpp"}
"""The catalog language whose image holds each server (infra/images)."""
SERVER_COMMANDS: dict[LspServer, list[str]] = {
    "python": ["pylsp"],
    "typescript": ["/opt/ts/tsc", "--lsp", "--stdio"],
    "cpp": ["clangd", "--background-index=false", "--log=error", "--pch-storage=memory",
            "--completion-parse=always"],
}
SERVER_ENV = {"XDG_CACHE_HOME": "/tmp/cache"}
"""Caches (jedi's, clangd's) go to /tmp, not to the mirrored project in /workspace."""
START_TIMEOUT_S = 30.0
MAX_QUEUED = 1024
"""Browser messages held for one server (while it starts, or reads slowly)."""
MAX_SERVERS = 16
"""Language servers one runner holds at once; past it an ``initialize`` is refused (``full``)."""
MAX_SERVERS_PER_OWNER = 3
"""Language servers one owner has on one runner at once (a socket has at most one of each of
the three kinds); past it an ``initialize`` of the owner is refused."""
CHATTER_LOG_TYPES = (3, 4)
"""``window/logMessage`` of type Info and Log: servers send many (TypeScript a dozen a request)
and an editor shows none; Error and Warning pass."""

Publish = Callable[[str, bytes], Awaitable[None]]
CreateSandbox = Callable[[LspServer], Awaitable[Sandbox]]
Destroy = Callable[[Sandbox], Awaitable[None]]


class Unsubscribe(Protocol):
    async def unsubscribe(self) -> None: ...


CommandHandler = Callable[[LspCommand], Awaitable[LspReply]]
Subscribe = Callable[[str, CommandHandler], Awaitable[Unsubscribe]]


@dataclass
class LanguageServer:
    key: str
    owner: str
    server: LspServer
    queue: asyncio.Queue[msgspec.Raw] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    last_used: float = field(default_factory=time.monotonic)
    started: float = field(default_factory=time.monotonic)
    sandbox: Sandbox | None = None
    task: asyncio.Task[None] | None = None
    subscription: Unsubscribe | None = None
    ended: str | None = None
    """Why it was stopped from outside (its ``stopped`` message)."""


class LanguageServers:
    def __init__(self, create: CreateSandbox, destroy: Destroy, publish: Publish,
                 subscribe: Subscribe, idle_s: float, env: dict[str, str],
                 max_servers: int = MAX_SERVERS, max_per_owner: int = MAX_SERVERS_PER_OWNER,
                 max_lifetime_s: float = 3600) -> None:
        self._create = create
        self._destroy = destroy
        self._publish = publish
        self._subscribe = subscribe
        self.idle_s = idle_s
        self._env = {**env, **SERVER_ENV}
        self.max_servers = max_servers
        self.max_per_owner = max_per_owner
        self.max_lifetime_s = max_lifetime_s
        self._servers: dict[str, LanguageServer] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._servers)

    async def start(self, start: LspStart) -> LspReply:
        """Take a server for ``start.key`` (answered at once; it starts in the background)."""
        old = self._servers.get(start.key)
        if old is not None:
            await self._stop(old, "started again")
        if len(self._servers) >= self.max_servers:
            return LspReply(False, f"this runner holds {self.max_servers} language servers "
                            "already: try again later", full=True)
        owned = sum(1 for s in self._servers.values() if s.owner == start.owner and not s.ended)
        if owned >= self.max_per_owner:
            return LspReply(False, f"{self.max_per_owner} language servers of yours run "
                            "already: close a tab of the IDE, or try again later")
        server = LanguageServer(start.key, start.owner, start.server)
        self._servers[start.key] = server
        server.subscription = await self._subscribe(
            start.key, lambda command: self.command(server, command))
        server.task = asyncio.create_task(self._serve(server), name=f"lsp-{start.key[:8]}")
        return LspReply()

    async def command(self, server: LanguageServer, command: LspCommand) -> LspReply:
        """A browser's message (queued) or a stop; never waits for the server."""
        match command:
            case LspToServer():
                server.last_used = time.monotonic()
                try:
                    server.queue.put_nowait(command.message)
                except asyncio.QueueFull:
                    return LspReply(False, f"the {server.server} language server has "
                                    f"{MAX_QUEUED} messages waiting: this one was dropped")
                return LspReply()
            case LspStop():
                server.ended = server.ended or "its socket closed"  # counted no more at once
                task = asyncio.create_task(self._stop(server, "its socket closed"))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
                return LspReply()

    async def _serve(self, server: LanguageServer) -> None:
        state: LspState = "stopped"
        message = "the language server ended"
        try:
            await self._state(server, "starting")
            server.sandbox = await self._created(server)
            await self._launch(server, server.sandbox)
            await self._state(server, "ready")
            message = await self._relay(server, server.sandbox)
        except SandboxError as exc:
            state, message = "unavailable", str(exc)
        except AgentGone as exc:
            message = f"the language server's sandbox stopped ({exc})"
        except asyncio.CancelledError:
            message = server.ended or "stopped"
        finally:
            await self._forget(server)
            await self._state(server, state, server.ended or message)

    async def _created(self, server: LanguageServer) -> Sandbox:
        """A new sandbox for the server. Creating one is not cancelled with the server (Docker
        makes the container in a thread all the same): one made for a server stopped
        meanwhile is removed once it exists."""
        creating = asyncio.ensure_future(self._create(server.server))
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError:
            creating.add_done_callback(self._remove_orphan)
            raise

    def _remove_orphan(self, creating: asyncio.Future[Sandbox]) -> None:
        if creating.cancelled() or creating.exception() is not None:
            return
        task = asyncio.create_task(self._destroy_orphan(creating.result()))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _destroy_orphan(self, sandbox: Sandbox) -> None:
        log.info("removing the sandbox of a language server stopped while it was made")
        await self._destroy(sandbox)

    async def _launch(self, server: LanguageServer, sandbox: Sandbox) -> None:
        argv = [*BRIDGE, *SERVER_COMMANDS[server.server]]
        await sandbox.link.send(agent.StartKernel(argv, self._env))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            event = await sandbox.link.next_event(timeout=deadline - time.monotonic())
            if isinstance(event, agent.FromKernel):
                if event.data.get("msg") == "ready":
                    return
                if event.data.get("msg") in ("failed", "exited"):
                    raise SandboxError(f"the {server.server} language server did not start: "
                                       f"{event.data.get('error', 'it exited')}")

    async def _relay(self, server: LanguageServer, sandbox: Sandbox) -> str:
        """Pass queued messages in and the server's out until it ends; why it ended."""
        writer = asyncio.create_task(self._write(server, sandbox))
        try:
            while True:
                event = await sandbox.link.next_event()
                if not isinstance(event, agent.FromKernel):
                    continue
                data = event.data
                if "lsp" in data:
                    if (relay := relayed(server.server, data["lsp"])) is not None:
                        await self._publish(server.key, relay)
                elif data.get("msg") in ("exited", "failed"):
                    return f"the {server.server} language server ended" + (
                        f": {data['error']}" if isinstance(data.get("error"), str) else "")
                elif data.get("msg") in ("too_long", "dropped", "bad_message"):
                    log.warning("language server %s sent an unusable message: %s",
                                server.key[:8], data)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, AgentGone):
                await writer

    async def _write(self, server: LanguageServer, sandbox: Sandbox) -> None:
        while True:
            raw = await server.queue.get()
            try:
                message = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                continue  # the edge checked it: never happens
            if isinstance(message, dict):
                await sandbox.link.send(agent.ToKernel(message))

    async def _state(self, server: LanguageServer, state: LspState, message: str = "") -> None:
        event = LspStateEvent(server.server, state, message)
        with contextlib.suppress(Exception):  # NATS reconnecting: the socket misses a state
            await self._publish(server.key, msgspec.json.encode(event))

    async def _forget(self, server: LanguageServer) -> None:
        if self._servers.get(server.key) is server:
            del self._servers[server.key]
        if server.subscription is not None:
            with contextlib.suppress(Exception):
                await server.subscription.unsubscribe()
            server.subscription = None
        sandbox, server.sandbox = server.sandbox, None
        if sandbox is not None:
            await self._destroy(sandbox)

    async def _stop(self, server: LanguageServer, why: str) -> None:
        server.ended = server.ended or why
        task = server.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._forget(server)  # also when it was cancelled before it began

    async def expire(self, now: float | None = None) -> int:
        """Stop servers whose browser sent nothing for ``idle_s``, and those that ran for
        ``max_lifetime_s`` (busy or not: ``initialize`` starts a fresh one)."""
        now = time.monotonic() if now is None else now
        ended = 0
        for server in list(self._servers.values()):
            if now - server.started >= self.max_lifetime_s:
                why = f"it ran for its longest time, {round(self.max_lifetime_s)} s"
            elif now - server.last_used >= self.idle_s:
                why = f"no message for {round(self.idle_s)} s"
            else:
                continue
            await self._stop(server, why)
            ended += 1
        return ended

    async def close(self) -> None:
        for server in list(self._servers.values()):
            await self._stop(server, "the runner stopped")
        if self._stopping:  # stops under way, orphans being removed
            await asyncio.wait(set(self._stopping), timeout=30)


def relayed(server: LspServer, message: Any) -> bytes | None:
    """The ``lsp`` event for a message the server sent, or None to drop it: anything but a
    JSON-RPC 2.0 object, and log chatter. A message over ``LSP_MAX_SERVER_MESSAGE_BYTES`` is
    dropped too; when it answers a request, an error answers the request in its place."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    if message.get("method") == "window/logMessage" and isinstance(
            message.get("params"), dict) and message["params"].get("type") in CHATTER_LOG_TYPES:
        return None
    try:
        raw = msgspec.json.encode(message)
    except (TypeError, ValueError, OverflowError):
        return None
    if len(raw) > LSP_MAX_SERVER_MESSAGE_BYTES:
        request_id = message.get("id")
        if "method" in message or not isinstance(request_id, int | str):
            return None
        raw = msgspec.json.encode({"jsonrpc": "2.0", "id": request_id, "error": {
            "code": LSP_INTERNAL_ERROR,
            "message": f"the language server's answer was {len(raw)} bytes, over the limit of "
                       f"{LSP_MAX_SERVER_MESSAGE_BYTES}"}})
    return msgspec.json.encode(LspEvent(server, msgspec.Raw(raw)))

"""A socket's language servers on the edge (edge/language_servers.py), NATS faked: what is
refused before it leaves the edge, and how servers are started, reached and stopped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from contracts.language_servers import (
    LSP_MAX_MESSAGE_BYTES,
    LspCommand,
    LspFrame,
    LspReply,
    LspServer,
    LspStart,
    LspToServer,
)
from edge.language_servers import SocketLanguageServers


class Events:
    def __init__(self, commands: FakeCommands, key: str) -> None:
        self.commands, self.key = commands, key

    async def unsubscribe(self) -> None:
        self.commands.listening.discard(self.key)


class FakeCommands:
    def __init__(self, runner: bool = True) -> None:
        self.runner = runner
        self.running: set[str] = set()
        self.listening: set[str] = set()
        self.sent: list[tuple[str, LspCommand]] = []
        self.stopped: list[str] = []

    async def start(self, start: LspStart) -> LspReply | None:
        if not self.runner:
            return None
        self.running.add(start.key)
        return LspReply()

    async def send(self, key: str, command: LspCommand, server: LspServer) -> LspReply | None:
        if key not in self.running:
            return None
        self.sent.append((key, command))
        return LspReply()

    async def stop(self, key: str) -> None:
        self.stopped.append(key)
        self.running.discard(key)

    async def listen(self, key: str, on_event: Callable[[bytes], Awaitable[None]]) -> Events:
        self.listening.add(key)
        return Events(self, key)


def socket(commands: FakeCommands) -> tuple[SocketLanguageServers, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    servers = SocketLanguageServers(
        commands, "session:s", lambda text: out.append(msgspec.json.decode(text)),
        lambda code, message: out.append({"type": "error", "code": code, "message": message}))
    return servers, out


def frame(message: object, server: LspServer = "python") -> LspFrame:
    return LspFrame(server, msgspec.Raw(msgspec.json.encode(message)))


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}


async def test_initialize_starts_a_server_and_later_messages_reach_it() -> None:
    commands = FakeCommands()
    servers, out = socket(commands)
    await servers.forward(frame(INITIALIZE))
    await servers.forward(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    assert out == [] and len(commands.running) == 1 and commands.listening == commands.running
    key = next(iter(commands.running))
    assert [k for k, _ in commands.sent] == [key, key]
    first = commands.sent[0][1]
    assert isinstance(first, LspToServer) and msgspec.json.decode(first.message) == INITIALIZE


async def test_initialize_again_stops_the_first_server_before_the_next() -> None:
    commands = FakeCommands()
    servers, _ = socket(commands)
    await servers.forward(frame(INITIALIZE))
    first = next(iter(commands.running))
    await servers.forward(frame(INITIALIZE))
    assert commands.stopped == [first] and len(commands.running) == 1
    assert first not in commands.running and first not in commands.listening
    await servers.close()
    assert commands.running == set() and commands.listening == set()


async def test_without_a_runner_for_the_server_it_is_unavailable() -> None:
    servers, out = socket(FakeCommands(runner=False))
    await servers.forward(frame(INITIALIZE, "cpp"))
    assert out == [{"type": "lsp_state", "server": "cpp", "state": "unavailable",
                    "message": "no runner of this platform runs the cpp language server"}]


async def test_a_message_with_no_server_running_is_answered_stopped() -> None:
    commands = FakeCommands()
    servers, out = socket(commands)
    await servers.forward(frame({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover"}))
    assert out[0]["type"] == "lsp_state" and out[0]["state"] == "stopped"
    await servers.forward(frame(INITIALIZE))
    commands.running.clear()  # its runner went away, say
    await servers.forward(frame({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover"}))
    assert out[1]["state"] == "stopped" and "no longer running" in out[1]["message"]


async def test_an_oversized_or_bogus_message_is_refused_with_an_error() -> None:
    commands = FakeCommands()
    servers, out = socket(commands)
    big = {"jsonrpc": "2.0", "method": "x", "params": "y" * LSP_MAX_MESSAGE_BYTES}
    for message in (big, {"id": 1}, {"jsonrpc": "2.0"}, [1]):
        await servers.forward(frame(message))
    assert [e["code"] for e in out] == ["invalid_request"] * 4
    assert f"at most {LSP_MAX_MESSAGE_BYTES}" in out[0]["message"]
    assert commands.sent == [] and commands.running == set()

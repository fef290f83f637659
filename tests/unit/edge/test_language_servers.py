"""A socket's language servers on the edge (edge/language_servers.py), NATS faked: what is
refused before it leaves the edge, and how servers are started, reached and stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from contracts.language_servers import (
    LSP_MAX_MESSAGE_BYTES,
    LspCommand,
    LspFrame,
    LspReply,
    LspServer,
    LspStart,
    LspToServer,
)
from edge import language_server_commands
from edge.language_server_commands import LanguageServerCommands
from edge.language_servers import MAX_PENDING_FRAMES, RESTART_INTERVAL_S, SocketLanguageServers


class Events:
    def __init__(self, commands: FakeCommands, key: str) -> None:
        self.commands, self.key = commands, key

    async def unsubscribe(self) -> None:
        self.commands.listening.discard(self.key)


class FakeCommands:
    def __init__(self, runner: bool = True, reply: LspReply | None = None) -> None:
        self.runner = runner
        self.reply = reply
        """A refusal to answer every start with."""
        self.starting: asyncio.Event | None = None
        """When set: a start is answered only once it is set (a runner slow to answer)."""
        self.running: set[str] = set()
        self.listening: set[str] = set()
        self.sent: list[tuple[str, LspCommand]] = []
        self.stopped: list[str] = []
        self.broken_stop: str | None = None

    async def start(self, start: LspStart) -> LspReply | None:
        if self.starting is not None:
            await self.starting.wait()
        if not self.runner:
            return None
        if self.reply is not None:
            return self.reply
        self.running.add(start.key)
        return LspReply()

    async def send(self, key: str, command: LspCommand, server: LspServer) -> LspReply | None:
        if key not in self.running:
            return None
        self.sent.append((key, command))
        return LspReply()

    async def stop(self, key: str) -> None:
        if key == self.broken_stop:
            raise ConnectionError("NATS is gone")
        self.stopped.append(key)
        self.running.discard(key)

    async def listen(self, key: str, on_event: Callable[[bytes], Awaitable[None]]) -> Events:
        self.listening.add(key)
        return Events(self, key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += RESTART_INTERVAL_S  # every initialize comes late enough, unless told
        return self.now


def socket(commands: FakeCommands, clock: Callable[[], float] | None = None
           ) -> tuple[SocketLanguageServers, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    servers = SocketLanguageServers(
        commands, "session:s", lambda text: out.append(msgspec.json.decode(text)),
        lambda code, message: out.append({"type": "error", "code": code, "message": message}),
        clock=clock or Clock())
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


async def test_an_initialize_too_soon_after_the_last_is_unavailable() -> None:
    commands = FakeCommands()
    now = [0.0]
    servers, out = socket(commands, clock=lambda: now[0])
    await servers.forward(frame(INITIALIZE))
    now[0] = RESTART_INTERVAL_S - 0.1
    await servers.forward(frame(INITIALIZE))
    assert len(commands.running) == 1 and commands.stopped == []
    assert out == [{"type": "lsp_state", "server": "python", "state": "unavailable",
                    "message": "the python language server was started less than "
                               f"{RESTART_INTERVAL_S:g} s ago: wait before starting it again"}]
    await servers.forward(frame(INITIALIZE, "cpp"))  # another kind: its own pace
    assert len(commands.running) == 2
    now[0] = RESTART_INTERVAL_S + 0.1
    await servers.forward(frame(INITIALIZE))
    assert len(commands.running) == 2 and len(commands.stopped) == 1


async def test_a_refused_start_is_stopped_on_the_runner_that_may_take_it_late() -> None:
    commands = FakeCommands(reply=LspReply(False, "no runner answered within 5.0 s"))
    servers, out = socket(commands)
    await servers.forward(frame(INITIALIZE))
    assert len(commands.stopped) == 1 and commands.listening == set()
    assert out[0]["state"] == "unavailable" and "no runner answered" in out[0]["message"]


async def test_one_server_failing_to_stop_spares_the_others() -> None:
    commands = FakeCommands()
    servers, _ = socket(commands)
    await servers.forward(frame(INITIALIZE, "python"))
    await servers.forward(frame(INITIALIZE, "cpp"))
    first, second = [k for k, _ in commands.sent]
    commands.broken_stop = first
    await servers.close()
    assert commands.stopped == [second] and commands.listening == {first}


async def test_frames_are_queued_in_order_and_never_wait_for_a_start() -> None:
    commands = FakeCommands()
    commands.starting = asyncio.Event()
    servers, out = socket(commands)
    servers.submit(frame(INITIALIZE))  # returns at once although the start waits
    for n in range(3):
        servers.submit(frame({"jsonrpc": "2.0", "id": n + 2, "method": "m"}))
    for _ in range(5):
        await asyncio.sleep(0)
    assert commands.sent == [] and out == []
    commands.starting.set()
    for _ in range(50):
        await asyncio.sleep(0)
    ids = [msgspec.json.decode(c.message)["id"] for _, c in commands.sent
           if isinstance(c, LspToServer)]
    assert ids == [1, 2, 3, 4]
    await servers.close()


async def test_a_full_frame_queue_refuses_and_close_ends_a_start_under_way() -> None:
    commands = FakeCommands()
    commands.starting = asyncio.Event()
    servers, out = socket(commands)
    servers.submit(frame(INITIALIZE))
    await asyncio.sleep(0)  # the task took it: it waits for the start
    for n in range(MAX_PENDING_FRAMES + 1):
        servers.submit(frame({"jsonrpc": "2.0", "id": n + 2, "method": "m"}))
    assert [e["code"] for e in out] == ["lsp_refused"]
    assert f"{MAX_PENDING_FRAMES} lsp messages are waiting" in out[0]["message"]
    assert len(commands.listening) == 1
    await asyncio.wait_for(servers.close(), 1)  # the socket closed while the start waited
    assert commands.listening == set() and len(commands.stopped) == 1
    assert commands.sent == []


class FakeClient:
    def __init__(self, replies: list[LspReply]) -> None:
        self.replies = replies
        self.asked = 0

    async def request(self, subject: str, data: bytes, timeout: float) -> Any:
        self.asked += 1

        class Msg:
            pass

        msg = Msg()
        msg.data = msgspec.json.encode(self.replies.pop(0))  # type: ignore[attr-defined]
        return msg


class FakeConnection:
    def __init__(self, client: FakeClient) -> None:
        self.client = client


async def test_a_full_runner_is_passed_over_for_another(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(language_server_commands, "START_RETRY_S", 0.0)
    full = LspReply(False, "this runner holds 16 language servers already", full=True)
    client = FakeClient([full, full, LspReply()])
    commands = LanguageServerCommands(FakeConnection(client))  # type: ignore[arg-type]
    assert await commands.start(LspStart("k", "session:s", "python")) == LspReply()
    assert client.asked == 3
    # A refusal that is not for want of room is final.
    client.replies = [LspReply(False, "2 language servers of yours run already"), LspReply()]
    reply = await commands.start(LspStart("k", "session:s", "python"))
    assert reply is not None and not reply.accepted and client.asked == 4

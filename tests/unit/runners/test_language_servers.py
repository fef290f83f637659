"""Language servers on a runner (runners/language_servers.py), with the sandbox and NATS faked:
what is relayed of a server's output, the order of the browser's messages, and each end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import pytest

from contracts.language_servers import (
    LSP_MAX_SERVER_MESSAGE_BYTES,
    LspReply,
    LspStart,
    LspStop,
    LspToServer,
)
from runners import agent_messages as agent
from runners.language_servers import CommandHandler, LanguageServers, relayed
from runners.link import AgentGone


class FakeLink:
    def __init__(self) -> None:
        self.events: asyncio.Queue[agent.AgentEvent | None] = asyncio.Queue()
        self.sent: list[agent.AgentRequest] = []
        self.closed = False

    async def send(self, command: agent.AgentRequest, timeout: float | None = None) -> None:
        self.sent.append(command)
        if isinstance(command, agent.StartKernel):
            self.events.put_nowait(agent.FromKernel({"msg": "ready"}))

    async def next_event(self, timeout: float | None = None) -> agent.AgentEvent:
        event = await self.events.get()
        if event is None:
            raise AgentGone("closed")
        return event

    def messages(self) -> list[dict[str, Any]]:
        return [c.data for c in self.sent if isinstance(c, agent.ToKernel)]


class FakeSandbox:
    def __init__(self) -> None:
        self.link = FakeLink()


class Subscription:
    def __init__(self, handlers: dict[str, CommandHandler], key: str) -> None:
        self.handlers, self.key = handlers, key

    async def unsubscribe(self) -> None:
        self.handlers.pop(self.key, None)


class World:
    def __init__(self, **limits: Any) -> None:
        self.sandboxes: list[FakeSandbox] = []
        self.destroyed: list[FakeSandbox] = []
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.handlers: dict[str, CommandHandler] = {}
        self.creating: asyncio.Event | None = None
        """When set: a sandbox is made only once it is set (Docker slow)."""
        self.servers = LanguageServers(self.create, self.destroy, self.publish, self.subscribe,
                                       env={}, **{"idle_s": 300, "max_servers": 2, **limits})

    async def create(self, server: str) -> Any:
        if self.creating is not None:
            await self.creating.wait()
        sandbox = FakeSandbox()
        self.sandboxes.append(sandbox)
        return sandbox

    async def destroy(self, sandbox: Any) -> None:
        self.destroyed.append(sandbox)

    async def publish(self, key: str, data: bytes) -> None:
        self.published.append((key, msgspec.json.decode(data)))

    async def subscribe(self, key: str, handler: CommandHandler) -> Subscription:
        self.handlers[key] = handler
        return Subscription(self.handlers, key)

    async def send(self, key: str, message: dict[str, Any]) -> LspReply:
        return await self.handlers[key](LspToServer(msgspec.Raw(msgspec.json.encode(message))))

    def states(self, key: str) -> list[str]:
        return [e["state"] for k, e in self.published if k == key and e["type"] == "lsp_state"]

    async def until(self, check: Any) -> None:
        for _ in range(200):
            if check():
                return
            await asyncio.sleep(0)
        raise AssertionError("the condition never held")


async def test_messages_sent_while_it_starts_reach_the_server_in_order() -> None:
    world = World()
    assert await world.servers.start(LspStart("k1", "session:s", "python")) == LspReply()
    for n in range(3):
        assert await world.send("k1", {"jsonrpc": "2.0", "id": n, "method": "m"}) == LspReply()
    await world.until(lambda: len(world.sandboxes) == 1 and
                      len(world.sandboxes[0].link.messages()) == 3)
    assert [m["id"] for m in world.sandboxes[0].link.messages()] == [0, 1, 2]
    start = world.sandboxes[0].link.sent[0]
    assert isinstance(start, agent.StartKernel)
    assert start.argv[-1] == "pylsp" and "agent_lsp.py" in start.argv[2]
    assert world.states("k1") == ["starting", "ready"]


async def test_the_servers_messages_are_published_as_lsp_events() -> None:
    world = World()
    await world.servers.start(LspStart("k1", "session:s", "cpp"))
    await world.until(lambda: world.states("k1") == ["starting", "ready"])
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"items": []}}
    world.sandboxes[0].link.events.put_nowait(agent.FromKernel({"lsp": answer}))
    world.sandboxes[0].link.events.put_nowait(agent.FromKernel({"lsp": {"no": "jsonrpc"}}))
    world.sandboxes[0].link.events.put_nowait(agent.FromKernel({"msg": "exited"}))
    await world.until(lambda: "stopped" in world.states("k1"))
    events = [e for _, e in world.published if e["type"] == "lsp"]
    assert events == [{"type": "lsp", "server": "cpp", "message": answer}]
    assert world.destroyed == world.sandboxes and "k1" not in world.handlers


async def test_a_stop_ends_the_server_and_removes_its_sandbox() -> None:
    world = World()
    await world.servers.start(LspStart("k1", "session:s", "typescript"))
    await world.until(lambda: world.states("k1") == ["starting", "ready"])
    assert await world.handlers["k1"](LspStop()) == LspReply()
    await world.until(lambda: world.destroyed == world.sandboxes)
    assert world.states("k1")[-1] == "stopped" and len(world.servers) == 0
    assert world.published[-1][1]["message"] == "its socket closed"


async def test_an_idle_server_is_stopped() -> None:
    world = World()
    await world.servers.start(LspStart("k1", "session:s", "python"))
    await world.until(lambda: world.states("k1") == ["starting", "ready"])
    assert await world.servers.expire(now=time.monotonic() + 200) == 0
    assert await world.servers.expire(now=time.monotonic() + 301) == 1
    assert world.destroyed == world.sandboxes and len(world.servers) == 0
    assert world.published[-1][1]["message"] == "no message for 300 s"


async def test_a_busy_server_is_stopped_after_its_longest_lifetime() -> None:
    world = World(idle_s=10**6, max_lifetime_s=600)
    await world.servers.start(LspStart("k1", "session:s", "python"))
    await world.until(lambda: world.states("k1") == ["starting", "ready"])
    await world.send("k1", {"jsonrpc": "2.0", "id": 1, "method": "m"})
    assert await world.servers.expire(now=time.monotonic() + 599) == 0
    assert await world.servers.expire(now=time.monotonic() + 601) == 1
    assert world.destroyed == world.sandboxes and len(world.servers) == 0
    assert world.states("k1")[-1] == "stopped"
    assert world.published[-1][1]["message"] == "it ran for its longest time, 600 s"


async def test_past_its_bound_a_runner_refuses_another_server() -> None:
    world = World()
    for key in ("k1", "k2"):
        assert (await world.servers.start(LspStart(key, "session:s", "python"))).accepted
    refused = await world.servers.start(LspStart("k3", "session:t", "python"))
    assert not refused.accepted and "2 language servers" in refused.message
    assert refused.full  # the edge asks another runner
    await world.servers.close()
    assert len(world.servers) == 0


async def test_an_owner_has_a_bounded_number_of_servers_on_a_runner() -> None:
    world = World(max_servers=16, max_per_owner=2)
    for key in ("a1", "a2"):
        assert (await world.servers.start(LspStart(key, "session:a", "python"))).accepted
    refused = await world.servers.start(LspStart("a3", "session:a", "cpp"))
    assert not refused.accepted and not refused.full and "2 language servers of yours" in (
        refused.message)
    assert (await world.servers.start(LspStart("b1", "session:b", "cpp"))).accepted
    # A stopped server (its socket's initialize again: stop, then start) counts no more at once.
    assert await world.handlers["a1"](LspStop()) == LspReply()
    assert (await world.servers.start(LspStart("a3", "session:a", "cpp"))).accepted
    await world.servers.close()
    assert len(world.servers) == 0


async def test_a_sandbox_made_for_a_server_stopped_meanwhile_is_removed() -> None:
    world = World()
    world.creating = asyncio.Event()
    await world.servers.start(LspStart("k1", "session:s", "python"))
    await world.until(lambda: world.states("k1") == ["starting"])
    assert await world.handlers["k1"](LspStop()) == LspReply()
    await world.until(lambda: world.states("k1") == ["starting", "stopped"])
    assert world.sandboxes == [] and len(world.servers) == 0
    world.creating.set()  # Docker made the container after all
    await world.until(lambda: len(world.sandboxes) == 1)
    await world.until(lambda: world.destroyed == world.sandboxes)


def test_a_servers_log_chatter_is_dropped_its_errors_kept() -> None:
    log = {"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": 3, "message": ""}}
    assert relayed("typescript", log) is None
    log["params"] = {"type": 1, "message": "bad"}
    assert relayed("typescript", log) is not None


@pytest.mark.parametrize("message", [[1], "x", {"id": 1, "result": 1},
                                     {"jsonrpc": "1.0", "id": 1}])
def test_what_is_no_json_rpc_object_is_dropped(message: object) -> None:
    assert relayed("python", message) is None


def test_an_oversized_answer_becomes_an_error_for_its_request() -> None:
    big = "x" * LSP_MAX_SERVER_MESSAGE_BYTES
    event = msgspec.json.decode(relayed("python", {"jsonrpc": "2.0", "id": 7, "result": big}))
    assert event["message"]["id"] == 7 and event["message"]["error"]["code"] == -32603
    assert "over the limit" in event["message"]["error"]["message"]
    notification = {"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                    "params": {"x": big}}
    assert relayed("python", notification) is None

"""Language servers on the real platform (docs/language-servers.md): the socket's ``lsp``
frames reach pylsp, TypeScript 7's server and clangd in sandboxes, and back."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import docker
import pytest

from contracts import labels
from contracts.language_servers import LSP_MAX_MESSAGE_BYTES
from tests.conftest import Running
from tests.integration.wsclient import Client, Event

pytestmark = pytest.mark.timeout(180)
ROOT = "file:///workspace"
STEP_S = 60.0
"""The longest one answer may take: a server's first answer includes its sandbox's start."""


class Lsp:
    """A browser's side of the socket's language servers, as the IDE speaks it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ids = itertools.count(1)
        self.seen: list[Event] = []

    @classmethod
    async def connect(cls, platform: Running) -> Lsp:
        return cls(await Client.connect(platform.ws_url))

    async def notify(self, server: str, method: str, params: dict[str, Any]) -> None:
        await self.client.send({"type": "lsp", "server": server, "message": {
            "jsonrpc": "2.0", "method": method, "params": params}})

    async def request(self, server: str, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self.ids)
        await self.client.send({"type": "lsp", "server": server, "message": {
            "jsonrpc": "2.0", "id": request_id, "method": method, "params": params}})
        answer = await self.until(lambda e: e["type"] == "lsp" and e["server"] == server and
                                  e["message"].get("id") == request_id and
                                  "method" not in e["message"])
        assert "error" not in answer["message"], answer
        return answer["message"]["result"]

    async def until(self, matches: Any) -> Event:
        """The next event that ``matches``, answering the servers' requests meanwhile."""
        async with asyncio.timeout(STEP_S):
            while True:
                event = await self.client.receive()
                self.seen.append(event)
                if matches(event):
                    return event
                if event["type"] == "lsp_state":
                    assert event["state"] in ("starting", "ready"), event
                if event["type"] == "lsp" and "method" in event["message"] and \
                        "id" in event["message"]:
                    await self.answer(event["server"], event["message"])

    async def answer(self, server: str, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        if request["method"] == "workspace/configuration":
            reply["result"] = [None] * len(request["params"]["items"])
        else:
            reply["error"] = {"code": -32601, "message": "not handled"}
        await self.client.send({"type": "lsp", "server": server, "message": reply})

    async def start(self, server: str, files: dict[str, str]) -> None:
        """initialize, initialized, and didOpen of each file."""
        result = await self.request(server, "initialize", {
            "processId": None, "rootUri": ROOT, "capabilities": {}})
        assert "capabilities" in result
        await self.notify(server, "initialized", {})
        for name, text in files.items():
            language = {"py": "python", "ts": "typescript", "c": "c"}[name.rsplit(".", 1)[1]]
            await self.notify(server, "textDocument/didOpen", {"textDocument": {
                "uri": f"{ROOT}/{name}", "languageId": language, "version": 1, "text": text}})

    def states(self, server: str) -> list[str]:
        return [e["state"] for e in self.seen
                if e["type"] == "lsp_state" and e["server"] == server]


def labels_of(items: Any) -> set[str]:
    return {item["label"].strip() for item in
            (items["items"] if isinstance(items, dict) else items)}


def position(uri: str, line: int, character: int) -> dict[str, Any]:
    return {"textDocument": {"uri": f"{ROOT}/{uri}"},
            "position": {"line": line, "character": character}}


async def test_python_completion_after_os_offers_path(platform: Running) -> None:
    lsp = await Lsp.connect(platform)
    try:
        await lsp.start("python", {"main.py": "import os\nos."})
        items = await lsp.request("python", "textDocument/completion", position("main.py", 1, 3))
        assert "path" in labels_of(items)
        assert lsp.states("python") == ["starting", "ready"]
    finally:
        await lsp.client.close()


async def test_python_definition_signature_and_hover_come_from_another_file(
        platform: Running) -> None:
    lsp = await Lsp.connect(platform)
    try:
        await lsp.start("python", {
            "helper.py": "def greet(name):\n    return 'hi ' + name\n",
            "main.py": "from helper import greet\n\ngreet('you')\n"})
        found = await lsp.request("python", "textDocument/definition",
                                  position("main.py", 2, 2))
        assert [(f["uri"], f["range"]["start"]["line"]) for f in found] == [
            (f"{ROOT}/helper.py", 0)]
        help_ = await lsp.request("python", "textDocument/signatureHelp",
                                  position("main.py", 2, 6))
        assert [s["label"] for s in help_["signatures"]] == ["greet(name)"]
        hover = await lsp.request("python", "textDocument/hover", position("main.py", 2, 2))
        assert "greet(name)" in str(hover["contents"])
    finally:
        await lsp.client.close()


async def test_typescript_completion_lists_a_typed_objects_members(platform: Running) -> None:
    lsp = await Lsp.connect(platform)
    try:
        await lsp.start("typescript", {"main.ts": (
            "const point: { xcoord: number; ycoord: number } = { xcoord: 1, ycoord: 2 };\n"
            "point.")})
        items = await lsp.request("typescript", "textDocument/completion",
                                  position("main.ts", 1, 6))
        assert labels_of(items) == {"xcoord", "ycoord"}
    finally:
        await lsp.client.close()


async def test_clangd_reports_a_c_error_as_a_diagnostic(platform: Running) -> None:
    lsp = await Lsp.connect(platform)
    try:
        await lsp.start("cpp", {"main.c": (
            "#include <stdio.h>\nint main(void) {\n  printf(\"%d\\n\", missing);\n}\n")})
        published = await lsp.until(
            lambda e: e["type"] == "lsp" and
            e["message"].get("method") == "textDocument/publishDiagnostics" and
            e["message"]["params"]["uri"] == f"{ROOT}/main.c")
        diagnostics = published["message"]["params"]["diagnostics"]
        assert [(d["range"]["start"]["line"], d["message"]) for d in diagnostics] == [
            (2, "Use of undeclared identifier 'missing'")]
    finally:
        await lsp.client.close()


async def test_an_oversized_or_bogus_message_is_refused_and_the_socket_stays_usable(
        platform: Running) -> None:
    lsp = await Lsp.connect(platform)
    try:
        await lsp.start("python", {"main.py": "import os\nos."})
        await lsp.client.send({"type": "lsp", "server": "python", "message": {
            "jsonrpc": "2.0", "method": "x", "params": {"text": "y" * LSP_MAX_MESSAGE_BYTES}}})
        oversized = await lsp.until(lambda e: e["type"] == "error")
        assert oversized["code"] == "invalid_request"
        assert oversized["message"].startswith("an lsp message of 1048") and \
            oversized["message"].endswith(f"at most {LSP_MAX_MESSAGE_BYTES}")
        await lsp.client.send({"type": "lsp", "server": "python", "message": {"id": 1}})
        bogus = await lsp.until(lambda e: e["type"] == "error")
        assert bogus["code"] == "invalid_request"
        assert bogus["message"].startswith("an lsp message must be a JSON-RPC 2.0 object")
        items = await lsp.request("python", "textDocument/completion", position("main.py", 1, 3))
        assert "path" in labels_of(items)
        result = await lsp.client.run({"main.py": "print('still here')"})
        assert (result.verdict, result.stdout) == ("ok", "still here\n")
    finally:
        await lsp.client.close()


async def test_the_server_is_stopped_after_its_session_ends(platform: Running) -> None:
    engine = docker.from_env()
    wanted = {"label": [f"{labels.PLATFORM}={platform.runner_id}",
                        f"{labels.LANGUAGE}=typescript", f"{labels.ROLE}=kernel"]}
    lsp = await Lsp.connect(platform)
    await lsp.start("typescript", {"main.ts": "let n = 1;\n"})
    await lsp.request("typescript", "textDocument/hover", position("main.ts", 0, 4))
    assert len(engine.containers.list(filters=wanted)) == 1
    await lsp.client.close()
    async with asyncio.timeout(30):
        while engine.containers.list(all=True, filters=wanted):
            await asyncio.sleep(0.2)  # polling Docker: it has no event the test can await here


async def test_an_initialize_right_after_another_is_refused_and_the_first_server_serves(
        platform: Running) -> None:
    """The edge's restart bound: each ``initialize`` makes a sandbox, so a second one within
    ``RESTART_INTERVAL_S`` is ``unavailable`` and starts (or stops) nothing."""
    lsp = await Lsp.connect(platform)
    try:
        params = {"processId": None, "rootUri": ROOT, "capabilities": {}}
        for request_id in (1, 2):
            await lsp.client.send({"type": "lsp", "server": "python", "message": {
                "jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}})
        refused = await lsp.until(lambda e: e["type"] == "lsp_state" and
                                  e["state"] == "unavailable")
        assert refused["server"] == "python" and "started less than 3 s ago" in (
            refused["message"])
        answer = await lsp.until(lambda e: e["type"] == "lsp" and
                                 e["message"].get("id") == 1)
        assert "capabilities" in answer["message"]["result"]
        lsp.ids = itertools.count(3)
        await lsp.notify("python", "initialized", {})
        await lsp.notify("python", "textDocument/didOpen", {"textDocument": {
            "uri": f"{ROOT}/main.py", "languageId": "python", "version": 1,
            "text": "import os\nos."}})
        items = await lsp.request("python", "textDocument/completion", position("main.py", 1, 3))
        assert "path" in labels_of(items)
        states = lsp.states("python")
        assert states.count("unavailable") == 1
        assert [s for s in states if s != "unavailable"] == ["starting", "ready"]  # one start
    finally:
        await lsp.client.close()

"""``coderunner bench``: a language server's warm completion through the socket, as the IDE
asks for it while one types (docs/language-servers.md): each sample is a ``didChange`` of the
whole file, then a completion request, timed from the request to its answer. The goal is
150 ms at the median (issue #25)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import websockets

from coderunner.bench import Figures

WARM_UP = 5
GOAL_MS = 150
ROOT = "file:///workspace"
CASES: dict[str, tuple[str, str, str, str]] = {
    # server: (file, languageId, text, how one completion it offers must begin)
    "python": ("main.py", "python", "import os\nos.", "path"),
    "typescript": ("main.ts", "typescript",
                   "const point: { xcoord: number; ycoord: number } = { xcoord: 1, ycoord: 2 };"
                   "\npoint.", "xcoord"),
    "cpp": ("main.cpp", "cpp", "#include <string>\nint main() {\n  std::string s;\n  s.", "append"),
}
NAMES = {"python": "pylsp", "typescript": "TypeScript 7", "cpp": "clangd"}


class Session:
    def __init__(self, ws: websockets.ClientConnection, server: str) -> None:
        self.ws, self.server = ws, server
        self.ids = itertools.count(1)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": "lsp", "server": self.server,
                                       "message": {"jsonrpc": "2.0", **message}}))

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self.ids)
        await self.send({"id": request_id, "method": method, "params": params})
        while True:
            event = json.loads(await self.ws.recv())
            if event["type"] == "error" or (
                    event["type"] == "lsp_state" and event["state"] in ("stopped", "unavailable")):
                raise RuntimeError(f"the {self.server} language server failed: {event}")
            if event["type"] != "lsp":
                continue
            message = event["message"]
            if message.get("id") == request_id and "method" not in message:
                return message.get("result")
            if "method" in message and "id" in message:  # the server asks: as the IDE answers
                answer = ([None] * len(message["params"]["items"])
                          if message["method"] == "workspace/configuration" else None)
                await self.send({"id": message["id"], "result": answer})


async def completion_samples(ws_url: str, server: str, count: int) -> list[float]:
    name, language, text, expected = CASES[server]
    lines = text.split("\n")
    at = {"textDocument": {"uri": f"{ROOT}/{name}"},
          "position": {"line": len(lines) - 1, "character": len(lines[-1])}}
    samples = []
    async with websockets.connect(ws_url, max_size=16 * 1024 * 1024) as ws:
        await ws.recv()  # the session event
        lsp = Session(ws, server)
        await lsp.request("initialize", {"processId": None, "rootUri": ROOT, "capabilities": {}})
        await lsp.send({"method": "initialized", "params": {}})
        await lsp.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": f"{ROOT}/{name}", "languageId": language, "version": 1, "text": text}}})
        for version in range(2, count + WARM_UP + 2):
            await lsp.send({"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": f"{ROOT}/{name}", "version": version},
                "contentChanges": [{"text": text}]}})
            started = time.perf_counter()
            result = await lsp.request("textDocument/completion", at)
            samples.append((time.perf_counter() - started) * 1000)
            items = result["items"] if isinstance(result, dict) else result or []
            if not any(item["label"].strip().startswith(expected) for item in items):
                raise RuntimeError(f"{server}: no {expected!r} among the completions")
    return samples[WARM_UP:]


async def lsp_figures(ws_url: str, count: int) -> list[Figures]:
    return [Figures(f"language server: warm completion, {server} ({NAMES[server]})",
                    await completion_samples(ws_url, server, count),
                    note=f"goal ≤ {GOAL_MS} ms")
            for server in CASES]

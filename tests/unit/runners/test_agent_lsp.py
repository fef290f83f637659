"""The language server bridge inside a sandbox (runners/agent/agent_lsp.py): LSP's
Content-Length framing both ways, bounded, and the documents it mirrors under /workspace."""

from __future__ import annotations

import importlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
agent_lsp: Any = importlib.import_module("agent_lsp")


def relayed(data: bytes) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    agent_lsp.read_messages(io.BytesIO(data), lines.append)
    return lines


def test_framed_messages_come_out_as_lines_in_order() -> None:
    first, second = {"jsonrpc": "2.0", "id": 1, "result": "é"}, {"jsonrpc": "2.0", "method": "m"}
    assert relayed(agent_lsp.frame(first) + agent_lsp.frame(second)) == [
        {"lsp": first}, {"lsp": second}]


def test_headers_besides_content_length_are_read_past() -> None:
    body = b'{"jsonrpc":"2.0","id":2,"result":null}'
    data = (b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body
    assert relayed(data) == [{"lsp": {"jsonrpc": "2.0", "id": 2, "result": None}}]


def test_a_message_over_the_bound_is_skipped_and_the_next_still_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_lsp, "MAX_MESSAGE_BYTES", 64)
    big = agent_lsp.frame({"jsonrpc": "2.0", "id": 1, "result": "x" * 100})
    small = agent_lsp.frame({"jsonrpc": "2.0", "id": 2, "result": 1})
    lines = relayed(big + small)
    assert lines[0] == {"msg": "too_long", "bytes": len(big.split(b"\r\n\r\n", 1)[1])}
    assert lines[1] == {"lsp": {"jsonrpc": "2.0", "id": 2, "result": 1}}


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_is_no_json_object_is_told_not_relayed(body: bytes) -> None:
    assert relayed(b"Content-Length: %d\r\n\r\n" % len(body) + body) == [{"msg": "bad_message"}]


@pytest.mark.parametrize("data", [b"\r\n{}", b"Content-Length: x\r\n\r\n",
                                  b"Content-Length: -1\r\n\r\n", b"X: " + b"a" * 5000 + b"\r\n"])
def test_output_that_is_not_lsp_framing_stops_the_reading(data: bytes) -> None:
    with pytest.raises(agent_lsp.FramingError):
        relayed(data)


@pytest.mark.parametrize("uri", [
    "file:///etc/passwd", "file:///workspace/../etc/passwd", "file:///workspace/a/../../x",
    "file://host/workspace/a.py", "https://x/workspace/a.py", "file:///workspace/", 42,
    "file:///workspace/a%00b"])
def test_only_documents_under_the_workspace_are_mirrored(uri: object) -> None:
    assert agent_lsp.document_path(uri) is None


def test_opened_and_fully_changed_documents_are_written_under_the_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_lsp, "WORKSPACE", str(tmp_path))
    uri = f"file://{tmp_path}/pkg/helper%20one.py"
    agent_lsp.mirror({"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "text": "v = 1\n"}}})
    assert (tmp_path / "pkg" / "helper one.py").read_text() == "v = 1\n"
    agent_lsp.mirror({"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri}, "contentChanges": [{"text": "v = 2\n"}]}})
    assert (tmp_path / "pkg" / "helper one.py").read_text() == "v = 2\n"
    agent_lsp.mirror({"method": "textDocument/didChange", "params": {  # a ranged edit: not full
        "textDocument": {"uri": uri}, "contentChanges": [{"range": {}, "text": "x"}]}})
    assert (tmp_path / "pkg" / "helper one.py").read_text() == "v = 2\n"


def test_a_document_outside_the_workspace_is_not_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_lsp, "WORKSPACE", str(tmp_path / "workspace"))
    for uri in (f"file://{tmp_path}/outside.py", f"file://{tmp_path}/workspace/../outside.py"):
        agent_lsp.mirror({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "text": "x = 1\n"}}})
    assert not (tmp_path / "outside.py").exists()

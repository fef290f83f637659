"""A language server's bridge inside a sandbox (stdlib only): JSON lines ⇄ LSP's stdio framing.

The agent starts it as the sandbox user, like a notebook's kernel bridge (``{"op":"kernel"}``,
agent_kernels.py relays its lines), with the server's command line as arguments::

    python3 -I /opt/coderunner/agent_lsp.py pylsp

Each line on its stdin is one JSON-RPC message for the server; it writes it to the server's
stdin with a ``Content-Length`` header. Each message the server writes is printed as one line,
``{"lsp": <message>}``; a message over ``MAX_MESSAGE_BYTES``, or one that is no JSON object, is
skipped and told as ``{"msg":"too_long","bytes":n}`` or ``{"msg":"bad_message"}``. First it
prints ``{"msg":"ready"}`` (the server started) or ``{"msg":"failed","error":…}``; it ends when
the server ends. The runner trusts none of it (runners/language_servers.py checks each line).

Documents the browser opens or changes (full text) are also written under /workspace, so that
a server that reads the project from disk (jedi's imports, clangd's includes, TypeScript's
module resolution) finds the other files of the project as the browser has them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import IO, Any
from urllib.parse import unquote, urlsplit

WORKSPACE = "/workspace"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The longest message of the server that is relayed (the runner's bound is the same)."""
MAX_HEADER_BYTES = 4096
MAX_DOCUMENT_BYTES = 1024 * 1024
"""The largest document mirrored to disk (a workspace file's limit)."""

Message = dict[str, Any]


class FramingError(ValueError):
    """The server's output is not LSP framing: the bridge stops reading it."""


def frame(message: Message) -> bytes:
    """One message with its ``Content-Length`` header, as a server reads it."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_header(stream: IO[bytes]) -> int | None:
    """The body length of the next message; None at the end of the stream."""
    length: int | None = None
    read = 0
    while True:
        line = stream.readline(MAX_HEADER_BYTES + 1)
        if not line:
            return None
        read += len(line)
        if read > MAX_HEADER_BYTES or not line.endswith(b"\n"):
            raise FramingError(f"a header longer than {MAX_HEADER_BYTES} bytes")
        line = line.strip()
        if not line:
            if length is None:
                raise FramingError("a message without Content-Length")
            return length
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise FramingError("a Content-Length that is no number") from None
            if length < 0:
                raise FramingError("a negative Content-Length")


def read_messages(stream: IO[bytes], out: Any) -> None:
    """Relay each framed message of ``stream`` as a line to ``out(line_dict)``, bounded."""
    while (length := read_header(stream)) is not None:
        if length > MAX_MESSAGE_BYTES:
            skip(stream, length)
            out({"msg": "too_long", "bytes": length})
            continue
        body = stream.read(length)
        if len(body) < length:
            return
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            message = None
        out({"lsp": message} if isinstance(message, dict) else {"msg": "bad_message"})


def skip(stream: IO[bytes], length: int) -> None:
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            return
        length -= len(chunk)


def document_path(uri: object) -> str | None:
    """The /workspace path of a ``file:///workspace/...`` URI; None for any other."""
    if not isinstance(uri, str):
        return None
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    names = path.split("/")
    if not path.startswith(WORKSPACE + "/") or any(n in ("", ".", "..") for n in names[2:]):
        return None
    return path if "\0" not in path else None


def document_of(message: Message) -> tuple[str, str] | None:
    """The path and full text of a document a didOpen or a full-text didChange carries."""
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    document = params.get("textDocument")
    if not isinstance(document, dict):
        return None
    text: object = None
    if message.get("method") == "textDocument/didOpen":
        text = document.get("text")
    elif message.get("method") == "textDocument/didChange":
        changes = params.get("contentChanges")
        if isinstance(changes, list) and changes and isinstance(changes[-1], dict) \
                and "range" not in changes[-1]:
            text = changes[-1].get("text")
    path = document_path(document.get("uri"))
    if path is None or not isinstance(text, str) or len(text) > MAX_DOCUMENT_BYTES:
        return None
    return path, text


def mirror(message: Message) -> None:
    """Write an opened or changed document under /workspace (best effort: a server that
    reads files from disk sees the project as the browser has it)."""
    found = document_of(message)
    if found is None:
        return
    path, text = found
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as file:
            file.write(text)
    except OSError:
        pass


def emit(line: Message) -> None:
    with LOCK:
        sys.stdout.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
        sys.stdout.flush()


LOCK = threading.Lock()


def forward(server: subprocess.Popen[bytes]) -> None:
    """Each line of stdin, a message for the server, framed onto its stdin."""
    assert server.stdin is not None
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(message, dict):
            continue
        mirror(message)
        try:
            server.stdin.write(frame(message))
            server.stdin.flush()
        except OSError:
            return


def main(argv: list[str]) -> int:
    try:
        server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, cwd=WORKSPACE)
    except OSError as exc:
        emit({"msg": "failed", "error": f"cannot start {argv[0]}: {exc.strerror}"})
        return 1
    emit({"msg": "ready"})
    threading.Thread(target=forward, args=(server,), daemon=True).start()
    assert server.stdout is not None
    try:
        read_messages(server.stdout, emit)
    except FramingError as exc:
        emit({"msg": "failed", "error": f"the server's output is not LSP: {exc}"})
    server.kill()
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

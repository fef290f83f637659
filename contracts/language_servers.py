"""Language servers (docs/language-servers.md): the socket's ``lsp`` frame and events, and what
the edge and the runner holding a server say to each other over NATS.

The browser speaks the Language Server Protocol (JSON-RPC 2.0) to a real language server that
runs in a sandbox of its session: each JSON-RPC message travels whole, as the ``message`` of an
``lsp`` frame (browser → edge) or event (edge → browser). The edge never decodes a message
past its envelope (``JsonRpcEnvelope``): it is kept as raw JSON (``msgspec.Raw``), bounded in
size, and passed on. One server process per (socket, server), started by ``initialize``.

Schema rules (as for contracts/messages.py): a new field has a default; a field never changes
its type; a tag is never reused.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

LspServer = Literal["python", "typescript", "cpp"]
"""A language server, not a catalog language: ``python`` serves .py files, ``typescript`` .js,
.mjs and .ts files (one server for both), ``cpp`` .c, .h, .cpp and .hpp files (clangd)."""
LSP_SERVERS: tuple[LspServer, ...] = ("python", "typescript", "cpp")
LspState = Literal["starting", "ready", "stopped", "unavailable"]

LSP_MAX_MESSAGE_BYTES = 1024 * 1024
"""The longest JSON-RPC message a browser may send (its JSON text): larger is refused."""
LSP_MAX_SERVER_MESSAGE_BYTES = 4 * 1024 * 1024
"""The longest message a server may send back; a larger answer to a request is replaced by a
JSON-RPC error for it, any other larger message is dropped."""
LSP_INTERNAL_ERROR = -32603
"""JSON-RPC's InternalError code, of the error the runner answers in a server's place."""


# --- the socket ---------------------------------------------------------------------------------


class LspFrame(Struct, frozen=True, rename="camel", forbid_unknown_fields=True, tag="lsp",
               tag_field="type"):
    """Browser → edge: one JSON-RPC message for the session's ``server``, passed on unchanged.
    ``initialize`` starts the server (a running one of this socket is stopped first); any other
    message goes to the running one, or is answered ``lsp_state`` ``stopped`` when none runs."""

    server: LspServer
    message: msgspec.Raw


class LspEvent(Struct, frozen=True, rename="camel", tag="lsp", tag_field="type"):
    """Edge → browser: one JSON-RPC message from the server (a response, a notification such as
    ``textDocument/publishDiagnostics``, or a request of the server's)."""

    server: LspServer
    message: msgspec.Raw


class LspStateEvent(Struct, frozen=True, rename="camel", tag="lsp_state", tag_field="type"):
    """Edge → browser: the server is ``starting`` (messages sent meanwhile are queued, in
    order), ``ready`` (its process started), ``stopped`` (idle, crashed, or the socket's session
    ended: ``initialize`` starts it again) or ``unavailable`` (``message`` says why)."""

    server: LspServer
    state: LspState
    message: str = ""


class JsonRpcEnvelope(Struct, frozen=True):
    """What the edge checks of a browser's message (the rest is the server's business): a
    JSON-RPC 2.0 object, with a method or an id."""

    jsonrpc: Literal["2.0"]
    method: Annotated[str, Meta(max_length=256)] | None = None
    id: int | Annotated[str, Meta(max_length=256)] | None = None


envelope_decoder = msgspec.json.Decoder(JsonRpcEnvelope)


# --- NATS: edge ↔ the runner holding the server -------------------------------------------------


class LspStart(Struct, frozen=True, rename="camel"):
    """Edge → any runner that runs ``server`` (``subjects.lsp_start``): start a server for
    ``key`` (``lsp_key``), owned by ``owner``; the runner answers an ``LspReply`` at once and
    starts it in the background (``lsp_state`` events follow on ``subjects.lsp_out``)."""

    key: str
    owner: str
    server: LspServer


class LspToServer(Struct, frozen=True, tag="message", tag_field="kind"):
    """A browser's message for the server (``subjects.lsp_in``), queued in order."""

    message: msgspec.Raw


class LspStop(Struct, frozen=True, tag="stop", tag_field="kind"):
    """Stop the server and remove its sandbox (the socket closed, or ``initialize`` again)."""


LspCommand = LspToServer | LspStop


class LspReply(Struct, frozen=True, rename="camel", omit_defaults=True):
    """A runner's answer to ``LspStart`` and ``LspCommand``: ``accepted``, or why not.
    ``full``: refused because this runner holds all the servers it may (another runner of the
    queue group may have room: the edge asks again)."""

    accepted: bool = True
    message: str = ""
    full: bool = False


lsp_command_decoder = msgspec.json.Decoder(LspCommand)
lsp_start_decoder = msgspec.json.Decoder(LspStart)
lsp_reply_decoder = msgspec.json.Decoder(LspReply)


def lsp_key(owner: str, socket_id: str, server: LspServer) -> str:
    """One server's identity across the platform: its owner's, its socket's and its own name,
    hashed (a subject token that names none of them, and that another owner cannot aim at)."""
    return hashlib.sha256(f"{owner}\n{socket_id}\n{server}".encode()).hexdigest()[:32]

"""What a web page of another site may do with the edge: nothing that changes state.

A browser sends a "simple" cross-origin request (a POST with a ``text/plain`` body, say) without
asking first, so a page the user opens could run code on a local edge that has no API keys. The
``CrossOriginGuard`` refuses, before any route runs:

- a state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is neither the edge's own
  nor one of ``ALLOWED_ORIGINS`` (403 ``origin_not_allowed``), with or without keys;
- a state-changing request with a body that is not ``application/json`` (or, for workspace
  files and zips, ``application/octet-stream`` or ``application/zip``) (415
  ``unsupported_media_type``): such a body needs a preflight, which only allowed origins pass;
- without API keys (the edge serves the local user), a request whose ``Host`` is not a loopback
  name or address (403 ``host_not_allowed``): a page whose name was re-pointed at 127.0.0.1
  (DNS rebinding) would otherwise count as the edge's own origin.

Allowed origins get CORS headers from Starlette's ``CORSMiddleware`` (``cors_options``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.api import ApiError, ErrorBody, to_json

STATE_CHANGING = frozenset(("POST", "PUT", "PATCH", "DELETE"))
LOOPBACK_HOSTS = frozenset(("localhost", "127.0.0.1", "[::1]"))


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """Allow the edge's own pages and the configured origins. Clients that are not browsers
    send no Origin and are allowed."""
    if origin is None:
        return True
    origin = origin.rstrip("/")
    return origin in allowed or origin.split("://", 1)[-1] == host


def host_allowed(host: str, local: bool, allowed: tuple[str, ...]) -> bool:
    """Without keys only loopback names (or a configured origin's host) reach the edge."""
    if not local or not host:  # a request without Host is no browser's
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return (name.lower() in LOOPBACK_HOSTS or name.lower().endswith(".localhost")
            or any(origin.split("://", 1)[-1] == host for origin in allowed))


RefusalBody = Callable[[str, str, str], bytes]
"""Path, error code and message → the refusal's JSON body (the compatible APIs have their own
error shapes, docs/compat.md)."""


def api_refusal(path: str, code: str, message: str) -> bytes:
    return to_json(ErrorBody(ApiError(code, message)))


PREFLIGHTED_BODIES = frozenset(("application/json", "application/octet-stream",
                                "application/zip"))
"""Body types a browser sends to another site only after a preflight (none is CORS-safelisted):
JSON, and workspace files and zips (docs/workspaces.md)."""


def is_preflighted(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in PREFLIGHTED_BODIES


def has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or bool(length and length.strip() not in ("", "0"))


def cors_options(allowed: tuple[str, ...]) -> dict[str, Any]:
    """``CORSMiddleware``'s settings: the allowed origins may call the API from their pages."""
    return {
        "allow_origins": list(allowed),
        "allow_methods": ["GET", "POST", "PUT", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "Idempotency-Key"],
        "expose_headers": ["Location", "Retry-After", "Idempotent-Replayed"],
        "max_age": 600,
    }


class CrossOriginGuard:
    """ASGI middleware refusing what a page of another site could send (see the module)."""

    def __init__(self, app: ASGIApp, allowed: tuple[str, ...], local: bool,
                 body: RefusalBody | None = None) -> None:
        self.app = app
        self.allowed = allowed
        self.local = local
        self.body = body or api_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (refusal := self.refusal(scope)):
            status, code, message = refusal
            body = self.body(scope["path"], code, message)
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not host_allowed(host, self.local, self.allowed):
            return 403, "host_not_allowed", (
                f"host {host!r} is not served: without API keys the edge answers loopback "
                "names only (set ALLOWED_ORIGINS or API keys to serve others)")
        if scope["method"] not in STATE_CHANGING:
            return None
        if not origin_allowed(headers.get("origin"), host, self.allowed):
            return 403, "origin_not_allowed", (
                "requests that change state are refused from pages of other sites; add the "
                "site to ALLOWED_ORIGINS to allow it")
        if (has_body(headers) or "content-type" in headers) and not is_preflighted(
                headers.get("content-type")):
            return 415, "unsupported_media_type", "the body must be application/json"
        return None

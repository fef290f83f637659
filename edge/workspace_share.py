"""Read-only share links to one revision of a workspace: ``<payload>.<hmac>``, the payload the
owner's digest, the workspace, the revision and the expiry, signed with the edge's session
secret (``SESSION_SECRET``, which every edge shares) under a key of its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import msgspec

from contracts.workspaces import workspace_id_problem


class SharedRevision(msgspec.Struct, frozen=True, array_like=True):
    """What a link opens: one revision of one owner's workspace, until ``expires``."""

    owner_digest: str
    workspace_id: str
    revision: int
    expires: int


class ShareLinks:
    def __init__(self, secret: str) -> None:
        base = (secret or secrets.token_hex(32)).encode()
        self._key = hmac.new(base, b"workspace share links", hashlib.sha256).digest()

    def sign(self, shared: SharedRevision) -> str:
        payload = _b64(msgspec.json.encode(shared))
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: float) -> SharedRevision | None:
        """The revision a valid, unexpired link opens, else None (tampered or expired)."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(errors="replace"),
                                   self._mac(payload).encode()):
            return None
        try:
            shared = msgspec.json.decode(_unb64(payload), type=SharedRevision)
        except (msgspec.DecodeError, ValueError):
            return None
        if shared.expires < now or workspace_id_problem(shared.workspace_id):
            return None
        return shared

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Session tokens for the browser socket: ``<sessionId>.<issuedAt>.<hmac>``, signed by the edge.

A client that reconnects with its token (``/ws?token=…``) gets its session back: the same
owner, so the same kept sandboxes. Tokens cannot be forged without the edge's secret; several
edges share it (SESSION_SECRET)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid

MAX_AGE_S = 86_400
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


class SessionTokens:
    def __init__(self, secret: str) -> None:
        self._key = (secret or secrets.token_hex(32)).encode()

    def new(self, now: float) -> tuple[str, str]:
        """A new session id and its token."""
        session_id = uuid.uuid4().hex
        return session_id, self.issue(session_id, now)

    def issue(self, session_id: str, now: float) -> str:
        body = f"{session_id}.{int(now)}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, now: float) -> str | None:
        """The session id of a valid, unexpired token, else None."""
        session_id, _, rest = token.partition(".")
        issued, _, signature = rest.partition(".")
        if not _SESSION_ID.match(session_id) or not issued.isdigit():
            return None
        expected = self._sign(f"{session_id}.{issued}").encode()
        if not hmac.compare_digest(signature.encode(errors="replace"), expected):
            return None
        if not 0 <= now - int(issued) <= MAX_AGE_S:
            return None
        return session_id

    def execution_id(self, session_id: str) -> str:
        """A new execution id that proves, to any edge with the secret, which session asked
        for it: 16 random hex digits and 16 of their HMAC with the session id. A client that
        reconnects (to another edge, or after the edge restarted) attaches to it with it."""
        nonce = secrets.token_hex(8)
        return nonce + self._execution_mac(session_id, nonce)

    def owns(self, session_id: str, execution_id: str) -> bool:
        if not _SESSION_ID.match(execution_id):
            return False
        nonce, mac = execution_id[:16], execution_id[16:]
        return hmac.compare_digest(mac, self._execution_mac(session_id, nonce))

    def _execution_mac(self, session_id: str, nonce: str) -> str:
        return hmac.new(self._key, f"execution:{session_id}:{nonce}".encode(),
                        hashlib.sha256).hexdigest()[:16]

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

"""Who is calling the HTTP API, and whether they may right now: API keys, a per-key rate limit
and a per-key quota of unfinished executions. Pure (the clock is passed in): the limits' state
lives in NATS (``edge.limits``), these functions compute its next value."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass

import msgspec

from contracts.messages import Isolation
from contracts.settings import ApiKey

LOCAL = "local"
"""The caller's name when no keys are configured (the edge then serves loopback only)."""


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool
    isolation: Isolation = "runc"
    """The least isolation of this caller's sandboxes (``GVISOR_KEYS``)."""

    @property
    def owner(self) -> str:
        """The trust scope of this caller's executions (sandboxes are never shared across)."""
        return f"key:{self.name}"


class AuthError(Exception):
    """A valid API key is required: send the header Authorization: Bearer <key>."""

    code = "unauthorized"
    status = 401


class Forbidden(AuthError):
    """This endpoint needs an admin key."""

    code = "forbidden"
    status = 403


class KeyRing:
    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self._by_digest = {_digest(k.secret): k for k in keys}

    @property
    def open(self) -> bool:
        """No keys configured: every (loopback) caller is the local admin."""
        return not self._by_digest

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a request with this ``Authorization`` header; raises AuthError."""
        if self.open:
            return Principal(LOCAL, admin=True)
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthError(AuthError.__doc__)
        wanted = _digest(secret.strip())
        for digest, key in self._by_digest.items():
            if hmac.compare_digest(digest, wanted):
                return Principal(key.name, key.admin, key.isolation)
        raise AuthError("this API key is not valid")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class TokenBucket(msgspec.Struct, frozen=True):
    """A key's rate-limit tokens as stored in the limits bucket. ``at`` is wall-clock time
    (seconds since the epoch), the one clock that every edge shares."""

    tokens: float
    at: float


def spend(bucket: TokenBucket | None, per_minute: int, now: float, cost: int = 1
          ) -> tuple[TokenBucket | None, float]:
    """A token bucket of ``per_minute`` tokens, refilled continuously: spend ``cost`` tokens
    (at most a full bucket). Returns the bucket to store and 0 when allowed, else None (nothing
    changes) and the seconds until it would be. A clock behind the stored ``at`` refills
    nothing, so that edges whose clocks differ a little never mint tokens."""
    cost = min(cost, per_minute)
    rate = per_minute / 60
    full = float(per_minute)
    if bucket is None:
        tokens, at = full, now
    else:
        tokens = min(full, bucket.tokens + max(0.0, now - bucket.at) * rate)
        at = max(bucket.at, now)
    if tokens >= cost:
        return TokenBucket(tokens - cost, at), 0.0
    return None, (cost - tokens) / rate


class Unfinished(msgspec.Struct, frozen=True):
    """A key's unfinished executions as stored in the limits bucket: id → when it was
    admitted (wall-clock seconds)."""

    since: dict[str, float] = msgspec.field(default_factory=dict)


def admit(unfinished: Unfinished | None, limit: int, execution_id: str, now: float,
          gone: Collection[str] = ()) -> Unfinished | None:
    """``execution_id`` added, after forgetting the ``gone`` ones, if that leaves fewer than
    ``limit``; else None (no room)."""
    since = {i: t for i, t in (unfinished.since if unfinished else {}).items() if i not in gone}
    if len(since) >= limit:
        return None
    return Unfinished({**since, execution_id: now})


def forget(unfinished: Unfinished | None, gone: Collection[str]) -> Unfinished | None:
    """Without the ``gone`` executions; None when none of them was there (nothing to store)."""
    if unfinished is None or not any(i in unfinished.since for i in gone):
        return None
    return Unfinished({i: t for i, t in unfinished.since.items() if i not in gone})

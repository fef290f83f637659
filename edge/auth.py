"""Who is calling the HTTP API, and whether they may right now: API keys, a per-key rate limit
and a per-key quota of unfinished executions. Pure (the clock is passed in)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from contracts.settings import ApiKey

LOCAL = "local"
"""The caller's name when no keys are configured (the edge then serves loopback only)."""


@dataclass(frozen=True)
class Principal:
    name: str
    admin: bool

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
                return Principal(key.name, key.admin)
        raise AuthError("this API key is not valid")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per caller: ``per_minute`` tokens, refilled continuously."""

    per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, name: str, now: float, cost: int = 1) -> float:
        """Spend ``cost`` tokens (at most a full bucket); 0 when allowed, else the seconds
        until it would be."""
        cost = min(cost, self.per_minute)
        rate = self.per_minute / 60
        bucket = self._buckets.setdefault(name, _Bucket(float(self.per_minute), now))
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / rate


@dataclass
class Quota:
    """Unfinished executions per caller, at most ``limit`` each (counted by this edge)."""

    limit: int
    _active: dict[str, set[str]] = field(default_factory=dict)
    _owner_of: dict[str, str] = field(default_factory=dict)

    def room(self, name: str) -> int:
        return self.limit - len(self._active.get(name, ()))

    def active(self, name: str) -> list[str]:
        return sorted(self._active.get(name, ()))

    def started(self, name: str, execution_id: str) -> None:
        self._active.setdefault(name, set()).add(execution_id)
        self._owner_of[execution_id] = name

    def finished(self, execution_id: str) -> None:
        name = self._owner_of.pop(execution_id, None)
        if name is not None:
            active = self._active[name]
            active.discard(execution_id)
            if not active:
                del self._active[name]

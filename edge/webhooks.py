"""Webhooks: a completed execution's result POSTed to its ``callbackUrl``, signed, with retries.

Every edge runs a ``WebhookDeliverer`` on the shared ``webhooks`` consumer of the COMPLETIONS
stream. A failed attempt is nak'ed with a delay (1, 2, 4 … 60 s), so JetStream keeps the retry
schedule: a retry survives the edge that made the attempt. The delivery state is kept under
``<executionId>.hook`` for ``GET /api/v1/executions/{id}``.

Signature (docs/api.md): ``X-CodeRunner-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 with the webhook secret over ``"<t>." + body``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable

import httpx

from contracts.api import MAX_CALLBACK_URL, ExecutionResult, to_json
from contracts.messages import WebhookState
from edge.addresses import IpAddress, NotAnAddress, embedded, host_address

log = logging.getLogger(__name__)
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com",
})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200",
))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff_s(attempt: int) -> float:
    """Delay before the attempt after ``attempt`` (1-based): 1, 2, 4 … capped at 60 s."""
    return float(min(60, 2 ** (attempt - 1)))


class Policy:
    """Which callback addresses are allowed."""

    def __init__(self, allow_private: bool, allow_link_local: bool) -> None:
        self.allow_private = allow_private
        self.allow_link_local = allow_link_local

    def url_problem(self, url: str) -> str | None:
        """Why a callback URL is refused at submission, or None."""
        if len(url) > MAX_CALLBACK_URL:
            return f"callbackUrl is longer than {MAX_CALLBACK_URL} characters"
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            return f"callbackUrl is not a valid URL: {exc}"
        if parts.scheme not in ("http", "https"):
            return "callbackUrl must be an http or https URL"
        if not parts.hostname:
            return "callbackUrl has no host"
        if parts.username or parts.password:
            return "callbackUrl must not contain credentials"
        return self.host_problem(parts.hostname)

    def host_problem(self, host: str) -> str | None:
        host = host.lower().rstrip(".")
        if host in METADATA_HOSTS and not self.allow_link_local:
            return f"callbackUrl host {host!r} is a cloud metadata service"
        if host == "localhost" or host.endswith(".localhost"):
            return self.address_problem(ipaddress.ip_address("127.0.0.1"))
        try:
            address = host_address(host)
        except NotAnAddress as exc:
            return f"callbackUrl host {exc}"
        # A name is checked again, resolved, when the callback is sent.
        return None if address is None else self.address_problem(address)

    def address_problem(self, ip: IpAddress) -> str | None:
        """Why ``ip`` (or an IPv4 address it carries) may not receive a callback, or None."""
        for inner in embedded(ip):
            if problem := self.address_problem(inner):
                return problem
        if ip.is_multicast or ip.is_unspecified:
            return f"callbackUrl address {ip} cannot receive a callback"
        if ip.is_link_local or ip in METADATA_ADDRESSES:
            if self.allow_link_local:
                return None
            return f"callbackUrl address {ip} is link-local or a metadata service"
        if not ip.is_global and not self.allow_private:
            return (f"callbackUrl address {ip} is private, not public "
                    "(CALLBACK_ALLOW_PRIVATE is off)")
        return None

    async def checked_address(self, url: str) -> IpAddress:
        """When the callback is sent: the address to connect to, one the host resolves to now
        and every one of which is allowed. The connection is made to it (not to the name, which
        could resolve elsewhere a moment later: DNS rebinding). Raises ``Refused``."""
        if problem := self.url_problem(url):
            raise Refused(problem)
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if (literal := host_address(host)) is not None:
            return literal
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for address in addresses:
            if problem := self.address_problem(address):
                raise Refused(problem)
        if not addresses:
            raise Refused(f"{host} resolves to no address")
        return addresses[0]


class Refused(Exception):
    """The callback URL may not be called (its message says why)."""


def pinned(url: str, address: IpAddress) -> tuple[str, dict[str, str], dict[str, str]]:
    """``url`` with its host replaced by ``address``, the ``Host`` header it had, and the TLS
    name to verify the certificate against (the URL's host, not the address)."""
    parts = urllib.parse.urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    name = parts.hostname or ""
    # An international name goes on the wire in its ASCII form; raises UnicodeError.
    name = f"[{name}]" if ":" in name else name.encode("idna").decode("ascii")
    original = f"{name}:{parts.port}" if parts.port else name
    sni = {"sni_hostname": name} if parts.scheme == "https" else {}
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {"Host": original}, sni


class Attempt:
    """One completion to deliver, as the consumer handed it over."""

    def __init__(self, execution_id: str, number: int, ack: Callable[[], Awaitable[None]],
                 retry: Callable[[float], Awaitable[None]]) -> None:
        self.execution_id = execution_id
        self.number = number
        self.ack = ack
        self.retry = retry


class Callback:
    """A callback body of another API's shape, sent with its own method (Judge0 PUTs its
    submission); signed and retried as every callback."""

    def __init__(self, method: str, body: bytes) -> None:
        self.method = method
        self.body = body


Lookup = Callable[[str], Awaitable[tuple[str, ExecutionResult | Callback] | None]]
"""Execution id → (callback URL, result to send), or None when it has no callback."""
SaveState = Callable[[str, WebhookState], Awaitable[None]]


class WebhookDeliverer:
    def __init__(self, secret: str, policy: Policy, max_attempts: int, timeout_s: float,
                 lookup: Lookup, save: SaveState) -> None:
        self.secret = secret
        self.policy = policy
        self.max_attempts = max_attempts
        self.lookup = lookup
        self.save = save
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False,
                                        trust_env=False)

    async def deliver(self, attempt: Attempt) -> None:
        found = await self.lookup(attempt.execution_id)
        if found is None:
            await attempt.ack()
            return
        url, result = found
        if isinstance(result, Callback):
            error, status_code = await self._post(url, attempt, result.body, result.method)
        else:
            error, status_code = await self._post(url, attempt, to_json(result))
        now = time.time()
        if error is None:
            await self.save(attempt.execution_id, WebhookState(
                "delivered", attempt.number, status_code, delivered_at=now))
            await attempt.ack()
        elif attempt.number >= self.max_attempts:
            log.warning("webhook for %s failed for good: %s", attempt.execution_id, error)
            await self.save(attempt.execution_id, WebhookState(
                "failed", attempt.number, status_code, error))
            await attempt.ack()
        else:
            delay = backoff_s(attempt.number)
            await self.save(attempt.execution_id, WebhookState(
                "retrying", attempt.number, status_code, error, next_attempt_at=now + delay))
            await attempt.retry(delay)

    async def _post(self, url: str, attempt: Attempt, body: bytes, method: str = "POST"
                    ) -> tuple[str | None, int | None]:
        try:
            address = await self.policy.checked_address(url)
            url, host, sni = pinned(url, address)
        except Refused as exc:
            return str(exc), None
        except UnicodeError as exc:
            return f"callbackUrl host is not a valid name: {exc}", None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "CodeRunner-Webhook/1",
            "X-CodeRunner-Signature": sign(self.secret, int(time.time()), body),
            "X-CodeRunner-Execution": attempt.execution_id,
            "X-CodeRunner-Attempt": str(attempt.number),
            **host,
        }
        try:
            response = await self.client.request(method, url, content=body, headers=headers,
                                                 extensions=sni)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" or type(exc).__name__, None
        if 200 <= response.status_code < 300:
            return None, response.status_code
        return f"the receiver answered {response.status_code}", response.status_code

    async def close(self) -> None:
        await self.client.aclose()

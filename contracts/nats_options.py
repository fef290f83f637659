"""How every component (edge, dispatcher, runner, janitor, CLI) connects to NATS: its servers,
its credentials and its TLS, read from the environment in one place.

``NATS_URL``
    One server or several of a cluster, comma-separated.
``NATS_CREDS``
    A credentials file (a user JWT and its NKey seed, as ``nsc`` writes it).
``NATS_NKEY_SEED``
    A file holding an NKey seed (``SU…``); needs the ``nkeys`` package.
``NATS_USER`` / ``NATS_PASSWORD`` (or ``NATS_PASSWORD_FILE``)
    A user and password (what ``infra/deploy/make-secrets.sh`` sets up per role and host).
``NATS_TLS_CA``, ``NATS_TLS_CERT``, ``NATS_TLS_KEY``
    TLS: the CA that signed the servers' certificates (given alone: the server is verified,
    with ``tls://`` URLs or a server that requires TLS), and this client's certificate and
    key when the server verifies clients.

Only one way of authenticating may be set. See docs/scale-out.md ("Securing NATS").
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

MAXIMUM_MESSAGES_EXCEEDED = 10077
"""JetStream's error code for a publish refused by a full stream (discard new), or by a subject
that holds its one message (discard new per subject: a seat that holds a job)."""

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


class NatsOptionsError(ValueError):
    """A NATS connection setting in the environment is invalid."""


def nats_servers(url: str) -> list[str]:
    """``NATS_URL`` may name several servers of a cluster, comma-separated: a client connects
    to any that answers and moves to another when it goes (it also learns the others)."""
    return [part.strip() for part in url.split(",") if part.strip()]


class NatsOptions(Struct, frozen=True):
    """Credentials and TLS of a NATS client; the servers are the component's ``nats_url``."""

    creds_file: str = ""
    nkey_seed_file: str = ""
    user: str = ""
    password: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> NatsOptions:
        password = env.get("NATS_PASSWORD", "")
        password_file = env.get("NATS_PASSWORD_FILE", "")
        if password_file:
            password = _read(password_file, "NATS_PASSWORD_FILE").strip()
        options = cls(
            creds_file=env.get("NATS_CREDS", ""),
            nkey_seed_file=env.get("NATS_NKEY_SEED", ""),
            user=env.get("NATS_USER", ""),
            password=password,
            tls_ca=env.get("NATS_TLS_CA", ""),
            tls_cert=env.get("NATS_TLS_CERT", ""),
            tls_key=env.get("NATS_TLS_KEY", ""),
        )
        options.check()
        return options

    def check(self) -> None:
        """Raise ``NatsOptionsError`` for settings that cannot work together."""
        ways = [name for name, value in (("NATS_CREDS", self.creds_file),
                                         ("NATS_NKEY_SEED", self.nkey_seed_file),
                                         ("NATS_USER", self.user)) if value]
        if len(ways) > 1:
            raise NatsOptionsError(f"set only one of {' and '.join(ways)}")
        if bool(self.user) != bool(self.password):
            raise NatsOptionsError("NATS_USER and NATS_PASSWORD go together")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise NatsOptionsError("NATS_TLS_CERT and NATS_TLS_KEY go together")
        for name, path in (("NATS_CREDS", self.creds_file), ("NATS_NKEY_SEED",
                           self.nkey_seed_file), ("NATS_TLS_CA", self.tls_ca),
                           ("NATS_TLS_CERT", self.tls_cert), ("NATS_TLS_KEY", self.tls_key)):
            if path and not Path(path).is_file():
                raise NatsOptionsError(f"{name} {path!r} is not a readable file")

    def tls_context(self) -> ssl.SSLContext | None:
        """A client TLS context verifying the servers with ``tls_ca`` (or the system's CAs
        when only a client certificate is given), or None without TLS settings."""
        if not (self.tls_ca or self.tls_cert):
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                             cafile=self.tls_ca or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_cert:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        return context


def connect_options(url: str, options: NatsOptions, name: str, inbox_prefix: str = ""
                    ) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect``: servers, client name, credentials, TLS, and
    the inbox prefix a secured NATS lets this role read (``subjects.runner_inbox``)."""
    kwargs: dict[str, Any] = {"servers": nats_servers(url), "name": name}
    if inbox_prefix:
        kwargs["inbox_prefix"] = inbox_prefix
    if options.creds_file:
        kwargs["user_credentials"] = options.creds_file
    if options.nkey_seed_file:
        kwargs["nkeys_seed"] = options.nkey_seed_file
    if options.user:
        kwargs["user"] = options.user
        kwargs["password"] = options.password
    context = options.tls_context()
    if context is not None:
        kwargs["tls"] = context
    return kwargs


def _read(path: str, name: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise NatsOptionsError(f"{name} {path!r} cannot be read: {exc}") from None

"""Sessions on this runner: a private network per owner, and a MariaDB on it when asked for.

A session's network is an internal bridge with a /24 of its own (172.25.{n}.0/24 by default):
no route out, none to the host, none to another session. Its networked sandboxes reach each
other by the stem of their main file (``server.py`` → ``server``) and the session's database
at ``mysql``, with credentials made for this session alone. Everything is removed once the
session has been idle for the container TTL (the janitor removes what a dead runner left).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts.runtimes import Runtime
from runners.sandbox import Attachment, DockerSessions, SandboxError

log = logging.getLogger(__name__)
DATABASE = "main"
DATABASE_USER = "coderunner"
DROP_ATTEMPTS = 25
DROP_RETRY_S = 0.2


def session_hash(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def host_name(main_file: str) -> str:
    """The name a networked sandbox is reached by: its main file's stem, as a DNS label."""
    stem = main_file.rsplit("/", 1)[-1].split(".", 1)[0].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", stem).strip("-")[:63]
    return label if label and label != "mysql" else "main"


def free_subnet(pool: str, used: set[str]) -> str:
    """The first /24 of ``pool`` that overlaps none of ``used``."""
    taken = [ipaddress.ip_network(u, strict=False) for u in used]
    for candidate in ipaddress.ip_network(pool).subnets(new_prefix=24):
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise SandboxError(f"no free /24 left in SESSION_SUBNETS {pool}")


@dataclass
class Session:
    owner: str
    network: str
    last_used: float = field(default_factory=time.monotonic)
    database: str | None = None
    """The database container's id, once started."""
    password: str = ""
    busy: int = 0

    def env(self) -> dict[str, str]:
        """What a program needs to reach the session's database."""
        if self.database is None:
            return {}
        return {"MYSQL_HOST": "mysql", "MYSQL_PORT": "3306", "MYSQL_USER": DATABASE_USER,
                "MYSQL_PASSWORD": self.password, "MYSQL_DATABASE": DATABASE}

    def attachment(self, main_file: str) -> Attachment:
        return Attachment(self.network, host_name(main_file), session_hash(self.owner))


class Sessions:
    def __init__(self, docker: DockerSessions, pool: str, ttl_s: float, instance: str,
                 database_runtime: Callable[[], Runtime | None]) -> None:
        self.docker = docker
        self.pool = pool
        self.ttl_s = ttl_s
        self.instance = instance
        self.database_runtime = database_runtime
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._subnet_lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(self, owner: str, with_database: bool) -> Session:
        """The owner's session, its network made and (if asked) its database running."""
        async with self._locks.setdefault(owner, asyncio.Lock()):
            session = self._sessions.get(owner) or await self._create(owner)
            session.last_used = time.monotonic()
            if with_database and session.database is not None and not (
                    await self.docker.is_running(session.database)):
                log.warning("the database of session %s died; starting a new, empty one",
                            session_hash(owner))
                await self.docker.remove_container(session.database)
                session.database = None
            if with_database and session.database is None:
                await self._start_database(session)
            return session

    def held(self, owner: str) -> Session | None:
        return self._sessions.get(owner)

    async def drop(self, owner: str) -> Session | None:
        """Remove the owner's session now (its database with its data, then its network): its
        next run makes a new one."""
        async with self._locks.setdefault(owner, asyncio.Lock()):
            session = self._sessions.pop(owner, None)
            if session is None:
                return None
            database = session.database
            for _ in range(DROP_ATTEMPTS):  # a sandbox of a run just stopped may be leaving it
                if await self._remove(session):
                    break
                await asyncio.sleep(DROP_RETRY_S)
            else:
                log.warning("the network of session %s was left for the janitor: sandboxes "
                            "still on it", session_hash(owner))
            session.database = database  # for the caller's account of what was removed
            return session

    async def network_exists(self, session: Session) -> bool:
        return await self.docker.network_exists(session.network)

    async def reopen(self, owner: str, with_database: bool) -> Session:
        """Forget the owner's session (its network is gone) and open it anew."""
        stale = self._sessions.pop(owner, None)
        if stale is not None:
            await self._remove(stale)
        return await self.open(owner, with_database)

    async def _create(self, owner: str) -> Session:
        name = f"coderunner-{self.instance[:8]}-{session_hash(owner)}"
        async with self._subnet_lock:
            for _ in range(3):  # another runner on this engine may take the same subnet
                subnet = free_subnet(self.pool, await self.docker.subnets_in_use())
                try:
                    await self.docker.create_network(name, subnet, session_hash(owner))
                    break
                except SandboxError as exc:
                    if "overlap" not in str(exc).lower():
                        raise
            else:
                raise SandboxError("no subnet could be taken for the session network")
        session = Session(owner, name)
        self._sessions[owner] = session
        return session

    async def _start_database(self, session: Session) -> None:
        runtime = self.database_runtime()
        if runtime is None:
            raise SandboxError("this runner has no MariaDB image for the session database")
        password = secrets.token_urlsafe(18)
        session.database = await self.docker.start_database(
            runtime, session.network, session_hash(session.owner), password)
        session.password = password

    def using(self, session: Session) -> Callable[[], Awaitable[None]]:
        """Mark a run in the session; the returned coroutine function marks its end."""
        session.busy += 1

        async def done() -> None:
            session.busy -= 1
            session.last_used = time.monotonic()

        return done

    async def expire(self, now: float | None = None) -> int:
        """Remove sessions idle for the TTL: their database, then their network (once their
        sandboxes, reaped by the same TTL, have left it)."""
        now = time.monotonic() if now is None else now
        removed = 0
        for owner, session in list(self._sessions.items()):
            if session.busy or now - session.last_used < self.ttl_s:
                continue
            if await self._remove(session):
                del self._sessions[owner]
                self._locks.pop(owner, None)
                removed += 1
        return removed

    async def _remove(self, session: Session) -> bool:
        if session.database is not None:
            await self.docker.remove_container(session.database)
            session.database = None
        return await self.docker.remove_network(session.network)

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            await self._remove(session)
        self._sessions.clear()

"""Sessions on this runner: a private network per owner, and a MariaDB on it when asked for.

A session's network is an internal bridge with a /24 of its own (172.25.{n}.0/24 by default):
no route out, none to the host, none to another session. Its networked sandboxes reach each
other by the stem of their main file (``server.py`` → ``server``) and the session's database
at ``mysql``, with credentials made for this session alone. Everything is removed once the
session has been idle for the container TTL (the janitor removes what a dead runner left).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
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
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        """Each owner's lock and how many hold or wait for it."""
        self._subnet_lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(self, owner: str, with_database: bool) -> Session:
        """The owner's session, its network made and (if asked) its database running, held for
        the caller's run until ``release``: held from the start, so that it cannot expire while
        its sandbox or database is still being made (which can outlast a short TTL)."""
        async with self._lock(owner):
            session = self._sessions.get(owner) or await self._create(owner)
            session.busy += 1
            try:
                await self._with_database(session, with_database)
            except BaseException:
                self.release(session)
                raise
            return session

    def release(self, session: Session) -> None:
        """The end of a run ``open`` held the session for: it may expire once idle for the TTL."""
        session.busy -= 1
        session.last_used = time.monotonic()

    async def _with_database(self, session: Session, wanted: bool) -> None:
        if not wanted:
            return
        if session.database is not None and not await self.docker.is_running(session.database):
            log.warning("the database of session %s died; starting a new, empty one",
                        session_hash(session.owner))
            await self.docker.remove_container(session.database)
            session.database = None
        if session.database is None:
            await self._start_database(session)

    def held(self, owner: str) -> Session | None:
        return self._sessions.get(owner)

    async def drop(self, owner: str) -> Session | None:
        """Remove the owner's session now (its database with its data, then its network): its
        next run makes a new one."""
        async with self._lock(owner):
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

    async def reopen(self, stale: Session, with_database: bool) -> Session:
        """Give up ``stale`` (held by the caller; its network is gone) and open the owner's
        session anew, held in its place."""
        self.release(stale)
        async with self._lock(stale.owner):
            if self._sessions.get(stale.owner) is stale:
                del self._sessions[stale.owner]
                await self._remove(stale)
        return await self.open(stale.owner, with_database)

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

    async def expire(self, now: float | None = None) -> int:
        """Remove sessions idle for the TTL: their database, then their network (once their
        sandboxes, reaped by the same TTL, have left it). A session held by a run, or opened
        while this waited for its owner, stays."""
        removed = 0
        for owner, session in list(self._sessions.items()):
            if not self._idle(session, now):
                continue
            async with self._lock(owner):
                if self._sessions.get(owner) is not session or not self._idle(session, now):
                    continue
                if await self._remove(session):
                    del self._sessions[owner]
                    removed += 1
        return removed

    def _idle(self, session: Session, now: float | None) -> bool:
        now = time.monotonic() if now is None else now
        return not session.busy and now - session.last_used >= self.ttl_s

    @contextlib.asynccontextmanager
    async def _lock(self, owner: str) -> AsyncIterator[None]:
        """The owner's lock, kept while anyone holds or waits for it (never replaced under a
        waiter), forgotten after."""
        lock, users = self._locks.get(owner, (asyncio.Lock(), 0))
        self._locks[owner] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[owner]
            if users == 1:
                del self._locks[owner]
            else:
                self._locks[owner] = (lock, users - 1)

    async def _remove(self, session: Session) -> bool:
        if session.database is not None:
            await self.docker.remove_container(session.database)
            session.database = None
        return await self.docker.remove_network(session.network)

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            await self._remove(session)
        self._sessions.clear()

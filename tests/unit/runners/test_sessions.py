"""Sessions' lifetimes, with an in-memory fake in place of Docker: a session a run holds never
expires under it, not even while its sandbox or database is still being made."""

from __future__ import annotations

import asyncio

from contracts.runtimes import Runtime
from runners.sessions import Session, Sessions

SQL = Runtime(name="sql", display_name="SQL", extension=".sql", image="sql", run=["x"])
TTL_S = 4.0
LATER = 1e9
"""A ``now`` long past any session's TTL."""


class FakeDocker:
    def __init__(self) -> None:
        self.networks: set[str] = set()
        self.databases: set[str] = set()
        self.database_may_start = asyncio.Event()
        self.database_may_start.set()

    async def subnets_in_use(self) -> set[str]:
        return set()

    async def create_network(self, name: str, subnet: str, session: str) -> None:
        await asyncio.sleep(0)  # the engine answers later
        self.networks.add(name)

    async def remove_network(self, name: str) -> bool:
        self.networks.discard(name)
        return True

    async def network_exists(self, name: str) -> bool:
        return name in self.networks

    async def start_database(self, runtime: Runtime, network: str, session: str,
                             password: str) -> str:
        await self.database_may_start.wait()
        container = f"db-{session}-{len(self.databases)}"
        self.databases.add(container)
        return container

    async def is_running(self, container: str) -> bool:
        return container in self.databases

    async def remove_container(self, container: str) -> None:
        self.databases.discard(container)


def sessions(docker: FakeDocker) -> Sessions:
    return Sessions(docker, "172.25.0.0/16", TTL_S, "instance0", lambda: SQL)  # type: ignore[arg-type]


async def test_a_held_session_never_expires_and_an_idle_one_does() -> None:
    docker = FakeDocker()
    table = sessions(docker)
    session = await table.open("alice", with_database=True)
    assert await table.expire(now=LATER) == 0
    assert (docker.networks, docker.databases) == ({session.network}, {session.database})
    table.release(session)
    assert await table.expire(now=LATER) == 1
    assert (docker.networks, docker.databases, len(table)) == (set(), set(), 0)


async def test_a_session_whose_database_is_starting_does_not_expire() -> None:
    docker = FakeDocker()
    docker.database_may_start.clear()
    table = sessions(docker)
    opening = asyncio.create_task(table.open("alice", with_database=True))
    while not docker.networks:  # the network is made; the database is on its way
        await asyncio.sleep(0)
    expiring = asyncio.create_task(table.expire(now=LATER))
    await asyncio.sleep(0.01)
    docker.database_may_start.set()
    session = await opening
    assert await expiring == 0
    assert session.env()["MYSQL_HOST"] == "mysql"
    assert (docker.networks, docker.databases) == ({session.network}, {session.database})


async def test_a_reopened_session_is_held_in_place_of_the_stale_one() -> None:
    docker = FakeDocker()
    table = sessions(docker)
    stale = await table.open("alice", with_database=False)
    docker.networks.clear()  # a janitor removed its network
    fresh = await table.reopen(stale, with_database=False)
    assert (fresh is not stale, stale.busy, fresh.busy) == (True, 0, 1)
    assert docker.networks == {fresh.network}
    assert await table.expire(now=LATER) == 0
    table.release(fresh)
    assert await table.expire(now=LATER) == 1


async def test_a_failed_open_does_not_hold_the_session() -> None:
    docker = FakeDocker()
    table = sessions(docker)

    async def broken(*_: object) -> str:
        raise RuntimeError("the engine refused")

    docker.start_database = broken  # type: ignore[method-assign]
    try:
        await table.open("alice", with_database=True)
    except RuntimeError:
        pass
    session = table.held("alice")
    assert isinstance(session, Session) and session.busy == 0
    assert await table.expire(now=LATER) == 1


async def test_an_owners_runs_opening_at_once_share_one_session_and_no_lock_is_left() -> None:
    docker = FakeDocker()
    docker.database_may_start.clear()
    table = sessions(docker)
    opening = [asyncio.create_task(table.open("alice", with_database=True)) for _ in range(3)]
    await asyncio.sleep(0.01)
    docker.database_may_start.set()
    first, second, third = await asyncio.gather(*opening)
    assert first is second is third and first.busy == 3
    assert (len(docker.networks), len(docker.databases)) == (1, 1)
    for _ in range(3):
        table.release(first)
    assert await table.expire(now=LATER) == 1
    assert table._locks == {}, "an owner's lock is forgotten once nobody holds or waits for it"

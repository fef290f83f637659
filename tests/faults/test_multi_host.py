"""Three runner hosts on one machine (``coderunner/multihost.py``: an extra Docker engine each,
with its own runner agent and janitor) serving one platform (an edge and a dispatcher on a
three-node NATS cluster; the main engine runs no runner): jobs spread over every host, and a host
whose agent is SIGKILLed and whose engine is stopped mid-load loses no accepted job: each
completes exactly once, the ones it was running again on another host."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from coderunner.multihost import (
    ControlPlane,
    Locator,
    RunnerHost,
    control_plane,
    heartbeats,
    job_counts,
    jobs_since,
    runner_hosts,
    wait_until_warm,
)
from contracts import subjects
from tests.conftest import need_root
from tests.integration.wsclient import Client, completion_count
from tests.runs_seen import runs_seen

# Setting up loads the python image into each engine the first time (minutes on two busy cores).
pytestmark = pytest.mark.timeout(900)
HOSTS = 3
SLOTS = 4
"""Jobs a host runs at once (RUNNER_MAX_JOBS): twelve over the three, so that no host can take
the whole load and each must pull its share."""
ACK_WAIT_S = 3
FIGURES: dict[str, Any] = {}
"""What the tests measured; printed at the end of the module (run with -s to see it)."""
STEADY = """import socket, time
print(socket.gethostname(), flush=True)
time.sleep(1)
print("done", flush=True)
"""


@dataclass
class Bed:
    plane: ControlPlane
    hosts: list[RunnerHost]

    @property
    def one_nats_url(self) -> str:
        return self.plane.nats_url.split(",")[0]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    need_root("extra Docker engines")
    # Every component gets the same short RUN_ACK_WAIT (as in test_runner_kill.py), so that a
    # job held by a vanished runner is not held long, whichever way the platform moves it.
    settings = {"RUN_ACK_WAIT": str(ACK_WAIT_S), "KEY_MAX_CONCURRENT": "500",
                "RATE_LIMIT_PER_MINUTE": "100000", "MAX_CONCURRENT_SESSIONS": "50",
                "SESSION_MAX_UNFINISHED": "100"}  # 40 jobs on one socket
    host_settings = {"POOL_SIZE": "2", "RUNNER_MAX_JOBS": str(SLOTS), "KERNEL_SPARES": "0"}
    with control_plane(tmp_path_factory.mktemp("multi-host"), nats_nodes=3,
                       settings=settings) as plane, runner_hosts(
            HOSTS, plane.env, ["coderunner/python:latest"], host_settings) as hosts:
        FIGURES["hosts warm after, s"] = round(
            asyncio.run(wait_until_warm(plane.nats_url, hosts)), 1)
        yield Bed(plane, hosts)
    print(f"\nmulti-host figures: {json.dumps(FIGURES)}")


@pytest.fixture
async def http(bed: Bed) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bed.plane.url, timeout=120,
                                 trust_env=False) as client:
        yield client


async def test_jobs_spread_over_every_runner_host(http: httpx.AsyncClient, bed: Bed) -> None:
    ids = [host.runner_id for host in bed.hosts]
    before = await job_counts(bed.plane.nats_url, ids)
    submitted: dict[str, int] = {}
    async with runs_seen(bed.one_nats_url) as seen:
        for n in range(30):
            code = f"import time\ntime.sleep(0.5)\nprint({n} * 3)\n"
            body = {"language": "python", "mainFile": "main.py",
                    "files": [{"name": "main.py", "content": code}]}
            answer = await http.post("/api/v1/executions", json=body)
            assert answer.status_code == 202, answer.text
            submitted[answer.json()["id"]] = n
        for execution_id, n in submitted.items():
            result = (await http.get(f"/api/v1/executions/{execution_id}?wait=true")).json()
            assert (result["verdict"], result["stdout"]) == ("ok", f"{n * 3}\n"), result
        await seen.assert_once(submitted)
    per_host = await jobs_since(bed.plane.nats_url, before, len(submitted))
    FIGURES["jobs per host (30 submitted)"] = list(per_host.values())
    assert sum(per_host.values()) == len(submitted), per_host
    assert all(count > 0 for count in per_host.values()), per_host
    for execution_id in submitted:
        assert await completion_count(bed.one_nats_url, execution_id) == 1


@dataclass
class Seen:
    """What the socket said about one execution: the hosts that printed for it (in order) and
    its completions."""

    hosts: list[str] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""


@dataclass
class Watch:
    """Executions submitted on one socket, and where each has run so far."""

    client: Client
    locator: Locator
    seen: dict[str, Seen] = field(default_factory=dict)
    where: dict[str, str | None] = field(default_factory=dict)
    """Sandbox host name → its engine's name."""

    async def submit(self, count: int) -> None:
        for n in range(count):
            queued = await self.client.submit({"main.py": STEADY}, request_id=f"steady-{n}")
            assert queued["type"] == "status", queued
            self.seen[queued["executionId"]] = Seen()

    async def take(self) -> None:
        event = await asyncio.wait_for(self.client.receive(), 120)
        entry = self.seen.get(event.get("executionId", ""))
        if entry is None:
            return
        if event["type"] == "completion":
            entry.completions.append(event)
        elif event["type"] == "output" and event["stream"] == "stdout":
            entry.stdout += event["data"]  # an event may hold part of a line
            printed = [line for line in entry.stdout.split("\n")[:-1] if line != "done"]
            for line in printed[len(entry.hosts):]:
                entry.hosts.append(line)
                self.where[line] = await asyncio.to_thread(self.locator.engine_of, line)

    def completed(self) -> int:
        return sum(1 for entry in self.seen.values() if entry.completions)

    async def until_completed(self, count: int) -> None:
        while self.completed() < count:
            await self.take()

    async def in_flight(self) -> dict[str, list[str]]:
        """Engine → executions running there now, as far as the socket has told (waits for
        one at least)."""
        while True:
            running: dict[str, list[str]] = {}
            for execution_id, entry in self.seen.items():
                engine = self.where.get(entry.hosts[-1]) if entry.hosts else None
                if engine is not None and not entry.completions:
                    running.setdefault(engine, []).append(execution_id)
            if running:
                return running
            await self.take()


async def test_a_runner_host_lost_mid_load_loses_no_accepted_job(bed: Bed) -> None:
    assert all(host.alive() for host in bed.hosts)
    watch = Watch(await Client.connect(bed.plane.ws_url), Locator(bed.hosts))
    try:
        async with runs_seen(bed.one_nats_url) as seen:
            victim = await lose_a_host_mid_load(bed, watch)
            await seen.settled()
    finally:
        await watch.client.close()
        watch.locator.close()
    # A job the lost host was running began again elsewhere (twice in all); the host runs at
    # most SLOTS at once, so at most SLOTS did. Every job completed once.
    assert seen.twice(watch.seen, starts=2) == {}
    began_twice = [i for i in watch.seen if seen.starts[i] == 2]
    assert 0 < len(began_twice) <= SLOTS, began_twice
    assert [seen.completions[i] for i in watch.seen] == [1] * len(watch.seen)
    for execution_id, entry in watch.seen.items():
        assert len(entry.completions) == 1, (execution_id, entry)
        assert entry.completions[0]["verdict"] == "ok", entry
        assert entry.stdout.endswith("done\n"), entry
        assert await completion_count(bed.one_nats_url, execution_id) == 1, execution_id
    survivors = {h.engine.name for h in bed.hosts if h is not victim}
    rerun = [e for e in watch.seen.values()
             if len(e.hosts) > 1 and watch.where.get(e.hosts[0]) == victim.engine.name]
    FIGURES["run again on another host"] = len(rerun)
    assert rerun, "no job that the lost host was running had to run again"
    for entry in rerun:
        assert watch.where.get(entry.hosts[-1]) in survivors, ("it ran again elsewhere", entry)
    FIGURES["jobs per host (40 submitted, one lost)"] = await job_counts(
        bed.plane.nats_url, [h.runner_id for h in bed.hosts])

    # The lost host's heartbeat expires: it drops out of the runners bucket.
    ids = [h.runner_id for h in bed.hosts]
    deadline = time.monotonic() + subjects.RUNNER_TTL_S + 20
    while victim.runner_id in await heartbeats(bed.plane.nats_url, ids):
        assert time.monotonic() < deadline, "the lost host's heartbeat did not expire"
        await asyncio.sleep(1)
    assert set(await heartbeats(bed.plane.nats_url, ids)) == set(ids) - {victim.runner_id}


async def lose_a_host_mid_load(bed: Bed, watch: Watch) -> RunnerHost:
    """Submit 40 jobs; once 6 are done, kill the host running the most; wait for all."""
    await watch.submit(40)
    await watch.until_completed(6)
    running = await watch.in_flight()
    victim_name = max(running, key=lambda name: len(running[name]))
    [victim] = [host for host in bed.hosts if host.engine.name == victim_name]
    killed_at = time.monotonic()
    FIGURES["engine stop after SIGKILL, s"] = round(await asyncio.to_thread(victim.kill), 1)
    FIGURES["running on the lost host when killed"] = len(running[victim_name])
    await watch.until_completed(len(watch.seen))
    FIGURES["all done after the kill, s"] = round(time.monotonic() - killed_at, 1)
    return victim

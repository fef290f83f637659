"""The Docker engine restarted under load, on an extra engine of the test's own
(``coderunner/engines.py``; live-restore off, so its containers die): every accepted job ends
with exactly one completion, jobs that were running get ``internal_error`` and the others
``ok``; the runner refills its warm pools, kept retrying while the engine was down, and a janitor
sweep removes what the restart left (exited containers) and what a killed runner left."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from coderunner.engines import Engine, running_engines
from coderunner.multihost import heartbeats
from contracts import labels
from contracts.messages import RunnerInfo
from tests.conftest import Running, need_root, running_platform
from tests.integration.wsclient import completion_count
from tests.runs_seen import RunsSeen, runs_seen

# The first run on a machine loads the images into the engine (a minute on two busy cores).
pytestmark = pytest.mark.timeout(300)
IMAGES = ["coderunner/python:latest", "coderunner/bash:latest"]
LANGUAGES = ("python", "bash")
SHORT = "import time\ntime.sleep(0.3)\nprint('ok')\n"
LONG = "import time\nprint('started', flush=True)\ntime.sleep(40)\nprint('never')\n"
ACK_WAIT_S = 60
"""A job its runner gave up on would run again only after this: long after any test waits."""
FIGURES: dict[str, Any] = {}
"""What the tests measured; printed at the end of the module (run with -s to see it)."""


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    need_root("extra Docker engines")
    with running_engines(1, IMAGES) as [engine]:
        yield engine


@pytest.fixture(scope="module")
def platform_on_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[Running]:
    """A platform whose runner and janitor use the extra engine. The janitor's own schedule
    is pushed out of the way: the tests sweep when they mean to."""
    settings = {"DOCKER_HOST": engine.socket_url, "JANITOR_INTERVAL": "3600",
                "RUN_ACK_WAIT": str(ACK_WAIT_S), "KEY_MAX_CONCURRENT": "500",
                "RATE_LIMIT_PER_MINUTE": "100000"}
    with running_platform(tmp_path_factory.mktemp("dockerd-restart"), **settings) as running:
        yield running
        if not engine.answers():  # a failed test left it down: its containers go with it
            engine.start()
    print(f"\ndockerd restart figures: {json.dumps(FIGURES)}")


@pytest.fixture
async def http(platform_on_engine: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform_on_engine.url, timeout=90,
                                 trust_env=False) as client:
        yield client


async def heartbeat(nats_url: str, runner_id: str) -> RunnerInfo | None:
    return (await heartbeats(nats_url, [runner_id])).get(runner_id)


def warm(info: RunnerInfo | None) -> dict[str, int]:
    return {name: info.pools[name].warm for name in LANGUAGES} if info else {}


async def pools_full(running: Running, engine: Engine, timeout_s: float = 120) -> float:
    """Wait until the runner's heartbeat shows every pool at its target, with as many sandboxes
    really running on the engine; returns seconds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        info = await heartbeat(running.nats_url, running.runner_id)
        if info and all(info.pools[n].warm >= info.pools[n].target > 0 for n in LANGUAGES):
            alive = await asyncio.to_thread(running_sandboxes, engine, running.runner_id)
            if all(alive.get(n, 0) >= info.pools[n].warm for n in LANGUAGES):
                return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"pools not refilled within {timeout_s} s: {warm(info)}")


def running_sandboxes(engine: Engine, runner_id: str) -> dict[str, int]:
    """Language → running sandboxes of one runner on the engine."""
    client = engine.client()
    try:
        found = client.api.containers(filters={
            "label": [f"{labels.RUNNER}={runner_id}", f"{labels.ROLE}=sandbox"],
            "status": "running"})
    finally:
        client.close()
    counts: dict[str, int] = {}
    for container in found:
        language = container["Labels"][labels.LANGUAGE]
        counts[language] = counts.get(language, 0) + 1
    return counts


def containers(engine: Engine, runner_id: str) -> dict[str, str]:
    """Container id → state, of one runner's containers on the engine."""
    client = engine.client()
    try:
        found = client.api.containers(all=True, filters={"label": f"{labels.RUNNER}={runner_id}"})
        return {c["Id"]: c["State"] for c in found}
    finally:
        client.close()


def sweep(engine: Engine, running: Running, check: bool = True
          ) -> subprocess.CompletedProcess[str]:
    """One `coderunner janitor sweep --json` on the engine, as the platform's janitor."""
    env = {**os.environ, "DOCKER_HOST": engine.socket_url, "NATS_URL": running.nats_url,
           "PLATFORM_ID": running.runner_id}
    return subprocess.run([sys.executable, "-m", "coderunner", "janitor", "sweep", "--json"],
                          env=env, capture_output=True, text=True, timeout=60, check=check)


def swept(engine: Engine, running: Running) -> tuple[dict[str, Any], str]:
    """The sweep's JSON, and what it logged (why something could not be removed)."""
    done = sweep(engine, running)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr


async def submit(http: httpx.AsyncClient, code: str, language: str = "python",
                 **extra: Any) -> str:
    main = "main.py" if language == "python" else "main.sh"
    response = await http.post("/api/v1/executions", json={
        "language": language, "mainFile": main, "files": [{"name": main, "content": code}],
        **extra})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def result_of(http: httpx.AsyncClient, execution_id: str, timeout_s: float = 180
                    ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        wait = max(1, min(20, int(left)))
        response = await http.get(f"/api/v1/executions/{execution_id}?wait=true&timeout={wait}")
        body: dict[str, Any] = response.json()
        if body.get("status") == "completed":
            return body
    raise AssertionError(f"{execution_id} did not complete within {timeout_s} s")


async def until_running(http: httpx.AsyncClient, ids: list[str]) -> None:
    for _ in range(300):
        states = [(await http.get(f"/api/v1/executions/{i}")).json()["status"] for i in ids]
        if all(state == "running" for state in states):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the long jobs did not start: {states}")


async def test_the_pool_refill_keeps_retrying_while_the_engine_is_down(
    engine: Engine, platform_on_engine: Running, http: httpx.AsyncClient,
) -> None:
    running = platform_on_engine
    await pools_full(running, engine)
    janitor = subprocess.Popen(  # a janitor on a 1 s schedule, through the outage
        [sys.executable, "-m", "coderunner", "janitor"], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DOCKER_HOST": engine.socket_url, "NATS_URL": running.nats_url,
             "PLATFORM_ID": running.runner_id, "JANITOR_INTERVAL": "1", "LOG_LEVEL": "INFO"})
    await asyncio.to_thread(engine.stop)
    try:
        await asyncio.sleep(8)  # several failed refills (0.5, 1, 2, 4 s apart)
        assert running.up is not None and running.up.children["runner"].poll() is None
        info = await heartbeat(running.nats_url, running.runner_id)
        assert info is not None and time.time() - info.at < 12, "the heartbeat goes on"
        assert warm(info) == {name: 0 for name in LANGUAGES}, "dead sandboxes are not warm"
        down = await asyncio.to_thread(sweep, engine, running, False)
        assert down.returncode == 1 and "did not answer" in down.stderr, down.stderr
        waiting = await submit(http, "print('waited')")
        await asyncio.sleep(2)
        assert (await http.get(f"/api/v1/executions/{waiting}")).json()["status"] != "completed"
    finally:
        await asyncio.to_thread(engine.start)
    refilled = asyncio.create_task(pools_full(running, engine))
    # It waited for the engine; a job the runner dropped would come back only after ACK_WAIT_S.
    result = await result_of(http, waiting, timeout_s=ACK_WAIT_S * 0.75)
    assert (result["verdict"], result["stdout"]) == ("ok", "waited\n"), result
    FIGURES["pools refilled after the engine came back, s"] = round(await refilled, 1)
    # The sandboxes that died with the engine, which the runner could not remove, the janitor
    # removes at its next pass; it kept running while the engine was down.
    for _ in range(100):
        if "exited" not in containers(engine, running.runner_id).values():
            break
        await asyncio.sleep(0.3)
    alive = janitor.poll() is None
    janitor.terminate()
    _, log = janitor.communicate(timeout=30)
    assert alive, log
    states = containers(engine, running.runner_id)
    assert "exited" not in states.values(), log
    assert "state exited" in log and "did not answer" in log, log
    assert all(i[:12] in log for i, state in states.items() if state == "dead"), log
    assert "Traceback" not in log, log
    assert await completion_count(running.nats_url, waiting) == 1


async def test_every_job_completes_once_across_a_dockerd_restart(
    engine: Engine, platform_on_engine: Running, http: httpx.AsyncClient,
) -> None:
    async with runs_seen(platform_on_engine.nats_url) as seen:
        await restart_under_load(engine, platform_on_engine, http, seen)


async def restart_under_load(engine: Engine, running: Running, http: httpx.AsyncClient,
                             seen: RunsSeen) -> None:
    await pools_full(running, engine)
    long_ids = [await submit(http, LONG, limits={"wallMs": 60_000}) for _ in range(3)]
    await until_running(http, long_ids)
    before = containers(engine, running.runner_id)
    short_ids: list[str] = []
    after_ids: list[str] = []
    restarted = asyncio.Event()

    async def one(n: int) -> None:
        language = LANGUAGES[n % 2]
        code = SHORT if language == "python" else "sleep 0.3; echo ok"
        short_ids.append(await submit(http, code, language))
        await asyncio.sleep(0.25)

    async def load() -> None:  # a job every 0.25 s before and during the restart, 8 after
        n = 0
        while not restarted.is_set():
            await one(n)
            n += 1
        for n in range(8):
            await one(n)
            after_ids.append(short_ids[-1])

    loading = asyncio.create_task(load())
    await asyncio.sleep(2)
    started = time.monotonic()
    await asyncio.to_thread(engine.restart)
    FIGURES["dockerd restart (SIGTERM to answering again), s"] = round(
        time.monotonic() - started, 1)
    restarted.set()
    refilled = asyncio.create_task(pools_full(running, engine))
    await loading
    FIGURES["pools refilled after the restart (under load), s"] = round(await refilled, 1)

    results = {i: await result_of(http, i) for i in long_ids + short_ids}
    for execution_id in results:
        assert await completion_count(running.nats_url, execution_id) == 1, execution_id
    # What really ran: none began twice (one whose sandbox died before it began never did),
    # each completion was published once.
    await seen.settled()
    assert seen.twice(results) == {}
    assert [seen.completions[i] for i in results] == [1] * len(results)
    assert [seen.starts[i] for i in long_ids + after_ids] == [1] * (len(long_ids + after_ids))
    verdicts = {i: (r["verdict"], r["message"]) for i, r in results.items()}
    for execution_id in long_ids:
        assert verdicts[execution_id] == ("internal_error", "the sandbox stopped answering")
    short = [verdicts[i] for i in short_ids]
    killed = [v for v in short if v != ("ok", None)]
    # A job started while dockerd stops its containers runs in one that dies with it (dockerd
    # 20.10 closes its listener, but answers the runner's open connections until it exits).
    assert all(v == ("internal_error", "the sandbox stopped answering") for v in killed), killed
    assert {verdicts[i] for i in after_ids} == {("ok", None)}, "every job after the restart"
    FIGURES.update({"jobs accepted": len(results), "jobs lost": 0, "jobs duplicated": 0,
                    "killed mid-run (internal_error)": len(long_ids) + len(killed),
                    "ok": len(short) - len(killed)})

    # The restart killed every container (live-restore off). What the runner could not remove
    # while the engine was down is left exited: the janitor's. A container created but never
    # started stays "created" (the janitor removes those after five minutes); one whose start
    # was under way when dockerd stopped keeps its root filesystem mounted, and Docker cannot
    # remove it ("device or resource busy"): the janitor says so and goes on.
    now = containers(engine, running.runner_id)
    assert not [i for i in before if now.get(i) == "running"], "none survived the restart"
    leftovers = {i for i, state in now.items() if state in ("exited", "dead")}
    assert leftovers, "the runner could not remove the containers that died with the engine"
    pass_, complaints = swept(engine, running)
    assert pass_["orphansJudged"] is True
    removed = {r["id"]: r["reason"] for r in pass_["removed"] if r["kind"] == "container"}
    assert set(removed.values()) <= {"state exited", "state dead"}
    assert set(removed) <= leftovers
    stuck = leftovers - set(removed)
    assert all(now[i] == "dead" and i[:12] in complaints for i in stuck), complaints
    assert complaints.count("device or resource busy") == len(stuck), complaints
    FIGURES["exited containers the sweep removed"] = len(removed)
    FIGURES["dead, root filesystem still mounted (not removable)"] = len(stuck)
    FIGURES["created, never started (left for the janitor's 5 min rule)"] = sum(
        1 for state in now.values() if state == "created")
    remaining = containers(engine, running.runner_id)
    assert set(remaining.values()) <= {"running", "created", "dead"}, remaining
    assert {i for i, state in remaining.items() if state == "dead"} == stuck
    assert "running" in remaining.values(), "the live runner's warm sandboxes stay"
    after = await submit(http, "print('after')")
    assert (await result_of(http, after))["stdout"] == "after\n"


async def test_the_janitor_removes_the_containers_of_a_killed_runner(
    engine: Engine, platform_on_engine: Running,
) -> None:
    running = platform_on_engine
    victim = f"test-victim-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "NATS_URL": running.nats_url, "RUNNER_ID": victim,
           "PLATFORM_ID": running.runner_id, "DOCKER_HOST": engine.socket_url,
           "POOL_SIZE": "1", "LOG_LEVEL": "WARNING", "KERNEL_SPARES": "0"}
    runner = subprocess.Popen([sys.executable, "-m", "coderunner", "runner"], env=env)
    try:
        # Every pool the victim keeps (a language whose image is on this engine: python, bash,
        # and awk, which runs in the bash image) warm with one sandbox each.
        expected = 0
        for _ in range(300):
            info = await heartbeat(running.nats_url, victim)
            if info and info.pools and all(p.warm >= p.target > 0 for p in info.pools.values()):
                expected = sum(p.warm for p in info.pools.values())
                break
            await asyncio.sleep(0.2)
        assert set(LANGUAGES) <= set(info.pools if info else ()), info
        orphans = containers(engine, victim)
        assert len(orphans) == expected, orphans
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    # Its agents exit when the runner's streams close (then "state exited"); one still running
    # goes once the runner's heartbeat has expired (15 s) and the container is 60 s old.
    ours = containers(engine, running.runner_id)
    removed: dict[str, str] = {}
    deadline = time.monotonic() + 150
    while not set(orphans) <= set(removed) and time.monotonic() < deadline:
        pass_, _ = await asyncio.to_thread(swept, engine, running)
        removed.update({r["id"]: r["reason"] for r in pass_["removed"]})
        await asyncio.sleep(3)
    assert set(orphans) <= set(removed), f"left: {set(orphans) - set(removed)}"
    assert set(removed) == set(orphans), "nothing of the live runner's goes"
    assert set(removed.values()) <= {"state exited", f"runner {victim} is gone"}, removed
    assert not containers(engine, victim)
    assert set(containers(engine, running.runner_id)) >= {
        i for i, state in ours.items() if state == "running"}, "the live runner's stay"

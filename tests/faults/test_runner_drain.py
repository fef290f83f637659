"""Draining runners: ``coderunner runner drain`` and SIGTERM stop a runner taking jobs and let
its running ones finish (not cancelled, not run again elsewhere); a drained runner leaves the
fleet at once (its heartbeat is gone)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from janitor.bus import live_runners
from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client

WAIT_S = 60.0
"""A bound on waiting for an event that should come (a failure, not a threshold)."""
SLOW = ("import sys, time\nsys.stdout.write('start\\n')\nsys.stdout.flush()\n"
        "time.sleep(2)\nprint('done')\n")
"""Prints ``start`` in one write (one output event), then ``done`` two seconds later."""


@pytest.fixture(scope="module")
def drained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_platform(tmp_path_factory.mktemp("drain")) as running:
        yield running


async def heartbeats(nats_url: str) -> set[str]:
    """The runners with a heartbeat, read as the janitor reads them."""
    live = await asyncio.to_thread(live_runners, nats_url)
    assert live is not None, "NATS could not say"
    return live


async def started(client: Client) -> str:
    """Submit the slow program and wait until it printed ``start`` (it runs)."""
    accepted = await client.submit({"main.py": SLOW})
    assert accepted["type"] == "status", accepted
    while True:
        event = await asyncio.wait_for(client.receive(), WAIT_S)
        if event.get("type") == "output" and "start" in event.get("data", ""):
            return str(accepted["executionId"])


async def test_a_drained_runner_finishes_its_job_and_leaves_the_fleet(drained: Running) -> None:
    client = await Client.connect(drained.ws_url)
    try:
        execution_id = await started(client)
        answer = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "coderunner", "runner", "drain", drained.runner_id,
            "--nats-url", drained.nats_url], capture_output=True, text=True, timeout=WAIT_S)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout == (f"runner {drained.runner_id} takes no more jobs; "
                                 "1 still running\n")
        result = await asyncio.wait_for(client.collect(execution_id), WAIT_S)
        assert (result.verdict, result.stdout) == ("ok", "done\n")
        assert drained.runner_id not in await heartbeats(drained.nats_url)
    finally:
        await client.close()


async def test_sigterm_lets_the_running_job_finish_then_the_runner_exits(
        drained: Running) -> None:
    assert drained.up is not None
    second = f"{drained.runner_id}-b"  # the platform's first runner was drained above
    runner = subprocess.Popen([sys.executable, "-m", "coderunner", "runner"],
                              env={**drained.up.env, "RUNNER_ID": second})
    client = await Client.connect(drained.ws_url)
    try:
        deadline = time.monotonic() + WAIT_S
        while second not in await heartbeats(drained.nats_url):
            assert time.monotonic() < deadline and runner.poll() is None
            await asyncio.sleep(0.2)
        execution_id = await started(client)
        runner.send_signal(signal.SIGTERM)
        result = await asyncio.wait_for(client.collect(execution_id), WAIT_S)
        assert (result.verdict, result.stdout) == ("ok", "done\n")
        assert await asyncio.to_thread(runner.wait, WAIT_S) == 0
        assert second not in await heartbeats(drained.nats_url)
    finally:
        await client.close()
        if runner.poll() is None:
            runner.kill()
            runner.wait()

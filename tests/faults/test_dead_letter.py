"""A job that takes its runner down every time it runs (here: the runner is SIGKILLed as soon
as the job begins, and a new one started) is handed out ``MAX_DELIVER`` times, then ends
``internal_error`` once (the dead letter): it is not run again, and never completes twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client
from tests.runs_seen import runs_seen

MAX_DELIVER = 2
SLOW = "import time\nprint('began', flush=True)\ntime.sleep(60)\n"


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = {"MAX_DELIVER": str(MAX_DELIVER), "RUN_ACK_WAIT": "2", "POOL_SIZE": "0",
                "KERNEL_SPARES": "0"}
    with running_platform(tmp_path_factory.mktemp("dead-letter"), **settings) as running:
        yield running


def replace_runner(running: Running) -> None:
    """SIGKILL the platform's runner, start another with the same id (as a supervisor would)."""
    assert running.up is not None
    os.kill(running.pid("runner"), signal.SIGKILL)
    running.up.children["runner"].wait()
    running.up.children["runner"] = subprocess.Popen(  # the platform's stop() ends it
        [sys.executable, "-m", "coderunner", "runner"], env=running.up.env)


@pytest.mark.timeout(240)
async def test_a_job_that_kills_its_runner_ends_internal_error_once_after_its_last_delivery(
        fragile: Running) -> None:
    client = await Client.connect(fragile.ws_url)
    try:
        async with runs_seen(fragile.nats_url) as seen:
            queued = await client.submit({"main.py": SLOW}, limits={"wallMs": 120_000})
            execution_id = queued["executionId"]
            killed = 0
            while not seen.completions[execution_id]:
                if seen.starts[execution_id] > killed:
                    await asyncio.to_thread(replace_runner, fragile)
                    killed += 1
                await asyncio.sleep(0.1)
            result = await client.collect(execution_id)
            await seen.settled()
    finally:
        await client.close()
    assert (result.verdict, result.completion.get("message")) == (
        "internal_error", "no runner could finish this job"), result.completion
    assert (seen.starts[execution_id], seen.completions[execution_id]) == (MAX_DELIVER, 1)

"""Fixtures of the fault tests: a platform with a second runner agent and a second dispatcher."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import docker
import pytest

from coderunner.up import remove_runner_containers
from contracts import labels
from tests.conftest import Running, running_platform

CAP = 3


@pytest.fixture(scope="module")
def two_runners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, str, int]]:
    """The platform's runner plus a second one (its own RUNNER_ID) sharing the Docker engine,
    and a second dispatcher; a global cap of ``CAP``."""
    settings = {"MAX_CONCURRENT_SESSIONS": str(CAP), "RUN_ACK_WAIT": "3", "KERNEL_SPARES": "0"}
    with running_platform(tmp_path_factory.mktemp("two-runners"), **settings) as running:
        second_id = f"test-second-{uuid.uuid4().hex[:6]}"
        # The same settings as the platform's: dispatchers must agree on the cap, and on
        # RUN_ACK_WAIT for the runners' consumers they make.
        env = {**os.environ, **settings, "NATS_URL": running.nats_url, "RUNNER_ID": second_id,
               "POOL_SIZE": "1", "LOG_LEVEL": "WARNING"}
        second = subprocess.Popen([sys.executable, "-m", "coderunner", "runner"], env=env)
        dispatcher = subprocess.Popen([sys.executable, "-m", "coderunner", "dispatcher"], env=env)
        try:
            yield running, second_id, second.pid
        finally:
            for process in (second, dispatcher):
                process.kill()
                process.wait()
            remove_runner_containers(env)


def runner_of(hostname: str) -> str:
    """The runner that owns the container whose host name (short id) is ``hostname``."""
    client = docker.from_env()
    try:
        return str(client.containers.get(hostname).labels[labels.RUNNER])
    finally:
        client.close()

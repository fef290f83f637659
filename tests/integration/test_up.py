"""``coderunner up`` stopped as a terminal stops it: Ctrl-C to its whole process group. The
components stop while NATS is still there (nats-server runs in a session of its own, stopped
last), so the stop says nothing of NATS going away and leaves no container."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from coderunner.nats_server import free_ports
from contracts import labels
from tests.integration.test_cli import FOREGROUND

pytestmark = pytest.mark.timeout(300)


def test_ctrl_c_to_the_terminal_stops_up_cleanly(tmp_path: Path) -> None:
    runner_id = f"test-up-{os.getpid()}"
    nats_port, edge_port = free_ports(2)
    env = {**os.environ, "NATS_PORT": str(nats_port), "RUNNER_ID": runner_id}
    up = subprocess.Popen(
        [sys.executable, "-c", FOREGROUND, "up", "--port", str(edge_port),
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env=env, start_new_session=True)  # a process group of its own, as a terminal's job
    assert up.stdout is not None
    said: list[str] = []
    for line in up.stdout:
        said.append(line)
        if line.startswith("Press Ctrl-C to stop."):
            break
    else:
        pytest.fail("up never got ready:\n" + "".join(said[-30:]))
    os.killpg(up.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rest, _ = up.communicate(timeout=120)
    said.append(rest)
    output = "".join(said)
    assert up.returncode == 0, output
    assert "nats: encountered error" not in output
    assert "cannot reach the platform" not in output
    client = docker.from_env()
    try:
        left = client.containers.list(all=True, filters={"label": f"{labels.RUNNER}={runner_id}"})
    finally:
        client.close()
    assert left == []

"""The SQL runtime's private server (``infra/images/mariadb/sqlrun.py``): a script without a
session starts an empty MariaDB in its sandbox and connects as soon as it answers.

The server binds its unix socket a moment before it listens; a connect in between is refused.
A CI run met that moment (``Can't connect ... [Errno 111] Connection refused``, verdict
``runtime_error`` for a correct script). The test makes it certain: the server's start is
replaced by one that binds the socket file at once and starts the real ``mariadbd`` only 0.5 s
later, in the real image.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

pytestmark = pytest.mark.timeout(120)

BOUND_BEFORE_LISTENING = """
import os, socket, subprocess, sys, threading, time
sys.path.insert(0, "/opt/sql")
import sqlrun

real_popen = subprocess.Popen


class LateServer:
    '''mariadbd at its start: the socket file exists (bound) well before anyone may connect.'''

    def __init__(self, args, **options):
        self.early = socket.socket(socket.AF_UNIX)
        self.early.bind(sqlrun.SOCKET)
        self.server = None
        threading.Thread(target=self.start, args=(args, options), daemon=True).start()

    def start(self, args, options):
        time.sleep(0.5)
        self.early.close()
        os.unlink(sqlrun.SOCKET)
        self.server = real_popen(args, **options)

    def poll(self):
        return None if self.server is None else self.server.poll()


subprocess.Popen = LateServer
with sqlrun.connect().cursor() as cursor:
    cursor.execute("SELECT 6 * 7")
    print(cursor.fetchone()[0])
"""


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def test_a_script_waits_for_its_private_server_to_listen(engine: docker.DockerClient) -> None:
    container = engine.containers.create(
        "coderunner/mariadb", ["python3", "-c", BOUND_BEFORE_LISTENING],
        name=f"coderunner-test-sql-{uuid.uuid4().hex[:8]}", network_disabled=True,
        read_only=True, tmpfs={"/tmp": ""})
    try:
        container.start()
        exit_code = container.wait(timeout=90)["StatusCode"]
        output = container.logs().decode(errors="replace")
        assert (exit_code, output.strip()) == (0, "42"), output
    finally:
        container.remove(force=True)

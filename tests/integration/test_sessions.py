"""Sessions on real Docker: a private network per session where a server and a client in two
console tabs talk, a MySQL per session whose data lasts across runs, no way into another
session or out of the sandbox, and nothing left once the TTL passed and the janitor swept."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator

import docker
import pytest

from contracts import labels
from tests.conftest import Running, running_platform
from tests.integration.wsclient import Client, stored_completion

TTL_S = 4
SERVER = """import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen()
print("listening", socket.gethostbyname("server"), flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"echo:" + c.recv(100))
    c.close()
"""
CLIENT = """import socket, sys
host = sys.argv[1] if len(sys.argv) > 1 else "server"
s = socket.create_connection((host, 9000), timeout=3)
s.sendall(b"hello")
print(s.recv(100).decode())
"""


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # The tests sweep when they mean to: a scheduled pass could take the expired container the
    # dry-run test plants before its dry run looks.
    with running_platform(tmp_path_factory.mktemp("sessions"),
                          CONTAINER_TTL=str(TTL_S), JANITOR_INTERVAL="3600") as running:
        yield running


@pytest.fixture
async def two(sessions: Running) -> AsyncIterator[tuple[Client, Client]]:
    a, b = await Client.connect(sessions.ws_url), await Client.connect(sessions.ws_url)
    yield a, b
    await a.close()
    await b.close()


async def start_server(client: Client) -> tuple[str, str]:
    """Run SERVER in its own console tab; its execution id and its address."""
    queued = await client.submit({"server.py": SERVER}, request_id="server")
    while (event := await client.receive()).get("type") != "output":
        assert event.get("type") != "completion", json.dumps(event)
    return queued["executionId"], event["data"].split()[1]


async def test_a_server_and_a_client_of_one_session_talk_over_tcp(
    two: tuple[Client, Client],
) -> None:
    a, _ = two
    server, _ = await start_server(a)
    result = await a.run({"client.py": CLIENT}, request_id="client")
    assert (result.verdict, result.stdout) == ("ok", "echo:hello\n"), result.stderr
    again = await a.run({"client.py": CLIENT}, request_id="client-again")
    assert again.stdout == "echo:hello\n", "the server keeps running while clients come"
    await a.send({"type": "stop", "executionId": server})
    assert (await a.collect(server)).verdict == "cancelled"


async def test_another_session_cannot_reach_the_server(two: tuple[Client, Client]) -> None:
    a, b = two
    server, address = await start_server(a)
    by_name = await b.run({"client.py": CLIENT}, request_id="by-name")
    assert by_name.verdict == "runtime_error"
    assert "name resolution" in by_name.stderr or "Name or service" in by_name.stderr
    by_address = await b.run({"client.py": CLIENT}, request_id="by-address", args=[address])
    assert by_address.verdict == "runtime_error", by_address.stdout
    assert "echo" not in by_address.stdout
    await a.send({"type": "stop", "executionId": server})
    await a.collect(server)


@pytest.fixture
def host_listener() -> Iterator[tuple[str, int]]:
    """A TCP listener of our own on every host address: were a sandbox able to reach the host,
    it would be answered here."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.sendall(b"host says hi\n")
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = subprocess.check_output(["hostname", "-I"], text=True).split()[0]
    yield address, server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


PROBE = """import socket, sys
for host, port in [(sys.argv[1], int(sys.argv[2])), (sys.argv[1], int(sys.argv[3]))]:
    try:
        socket.create_connection((host, port), timeout=2)
        print("reached", host, port)
    except OSError as exc:
        print("refused", host, port, type(exc).__name__)
"""


@pytest.mark.parametrize("network", [False, True])
async def test_a_sandbox_reaches_neither_the_host_nor_nats(
    sessions: Running, host_listener: tuple[str, int], network: bool,
) -> None:
    address, port = host_listener
    nats_port = sessions.nats_url.rsplit(":", 1)[1]
    with socket.create_connection((address, port), timeout=2) as direct:
        assert direct.recv(20) == b"host says hi\n", "the listener answers from the host"
    client = await Client.connect(sessions.ws_url)
    try:
        result = await client.run({"probe.py": PROBE}, args=[address, str(port), nats_port],
                                  network=network)
    finally:
        await client.close()
    assert "reached" not in result.stdout
    assert result.stdout.count("refused") == 2, result.stderr


async def test_sql_data_lasts_across_runs_of_a_session_and_no_further(
    two: tuple[Client, Client],
) -> None:
    a, b = two
    create = await a.run({"schema.sql": "CREATE TABLE t (n INT);\nINSERT INTO t VALUES (1), (2);"},
                         language="sql", request_id="create")
    assert create.verdict == "ok", create.stderr
    read = await a.run({"read.sql": "SELECT SUM(n) AS total FROM t;"}, language="sql",
                       request_id="read")
    tables = [e for e in read.events if e["type"] == "table"]
    assert tables and tables[0]["rows"] == [["3"]]
    from_python = await a.run({"db.py": (
        "import os, pymysql\n"
        "c = pymysql.connect(host='mysql', user=os.environ['MYSQL_USER'],\n"
        "    password=os.environ['MYSQL_PASSWORD'], database=os.environ['MYSQL_DATABASE'])\n"
        "cur = c.cursor(); cur.execute('SELECT COUNT(*) FROM t'); print(cur.fetchone()[0])\n")},
        request_id="python")
    assert from_python.stdout == "2\n", from_python.stderr
    other = await b.run({"read.sql": "SELECT SUM(n) AS total FROM t;"}, language="sql",
                        request_id="other")
    assert other.verdict == "runtime_error"
    assert "doesn't exist" in other.stderr


def session_leftovers(runner_id: str) -> tuple[list[str], list[str]]:
    client = docker.from_env()
    try:
        ours = {"label": [f"{labels.RUNNER}={runner_id}", labels.SESSION]}
        containers = [c["Id"] for c in client.api.containers(all=True, filters=ours)]
        networks = [n["Id"] for n in client.api.networks(filters=ours)]
        return containers, networks
    finally:
        client.close()


def janitor(*args: str, platform: Running) -> dict[str, object]:
    env = {**os.environ, "NATS_URL": platform.nats_url, "PLATFORM_ID": platform.runner_id}
    out = subprocess.run([sys.executable, "-m", "coderunner", "janitor", "sweep", "--json",
                          *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


async def test_a_session_is_gone_after_its_ttl_and_a_janitor_pass(sessions: Running) -> None:
    client = await Client.connect(sessions.ws_url)
    try:
        result = await client.run({"db.sql": "SELECT 1;"}, language="sql")
        assert result.verdict == "ok"
    finally:
        await client.close()
    containers, networks = session_leftovers(sessions.runner_id)
    assert containers and networks, "the session had a network, a database and a sandbox"
    await asyncio.sleep(TTL_S + 3)
    swept = janitor(platform=sessions)
    assert swept["orphansJudged"] is True, "the pass read the runner heartbeats"
    assert session_leftovers(sessions.runner_id) == ([], [])


def test_a_dry_run_removes_nothing_and_unlabelled_containers_are_left_alone(
    sessions: Running,
) -> None:
    client = docker.from_env()
    stranger = client.api.create_container("coderunner/python", command=["true"],
                                           name=f"not-ours-{time.time_ns()}")
    managed = client.api.create_container(
        "coderunner/python", command=["true"],
        labels={labels.MANAGED: "1", labels.EXPIRES: "1"})  # expired long ago
    try:
        plan = janitor("--dry-run", platform=sessions)
        assert managed["Id"] in [r["id"] for r in plan["removed"]]  # type: ignore[union-attr]
        assert client.api.inspect_container(managed["Id"])  # still there after a dry run
        done = janitor(platform=sessions)
        removed = [r["id"] for r in done["removed"]]  # type: ignore[union-attr]
        assert managed["Id"] in removed and stranger["Id"] not in removed
        assert client.api.inspect_container(stranger["Id"])["State"]["Status"] == "created"
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_container(managed["Id"])
    finally:
        for container in (stranger, managed):
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_container(container["Id"], force=True)
        client.close()


async def test_a_reconnect_with_the_token_resumes_the_session_and_its_sandbox(
    sessions: Running,
) -> None:
    probe = {"main.py": "import os\nprint(os.uname().nodename)\n"}
    first = await Client.connect(sessions.ws_url)
    host = (await first.run(probe)).stdout
    token = first.session["token"]
    await first.close()
    again = await Client.connect(sessions.ws_url, token=token)
    try:
        assert again.session["sessionId"] == first.session["sessionId"]
        assert again.session.get("resumed") is True
        assert (await again.run(probe)).stdout == host, "the console tab's sandbox was kept"
    finally:
        await again.close()
    forged = await Client.connect(sessions.ws_url, token=token[:-2] + "xx")
    try:
        assert forged.session["sessionId"] != first.session["sessionId"]
        assert not forged.session.get("resumed")
    finally:
        await forged.close()


def test_coderunner_stats_shows_the_queue_runners_and_sessions(sessions: Running) -> None:
    env = {**os.environ, "NATS_URL": sessions.nats_url}
    out = subprocess.run([sys.executable, "-m", "coderunner", "stats", "--json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    stats = json.loads(out)
    assert [r["runnerId"] for r in stats["runners"]] == [sessions.runner_id]
    assert stats["pools"]["python"]["target"] == 1
    assert set(stats["queue"]["queue"]["waiting"]) == {"0", "1", "2"}
    assert {"containersWarm", "containersKept", "sessions", "reuseRate", "jobs"} <= set(stats)
    table = subprocess.run([sys.executable, "-m", "coderunner", "stats"], check=True,
                           capture_output=True, text=True, env=env).stdout
    assert "queue" in table and sessions.runner_id in table


JDBC = """import java.sql.*;

public class Main {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:mysql://mysql:3306/" + System.getenv("MYSQL_DATABASE");
        try (Connection c = DriverManager.getConnection(url, System.getenv("MYSQL_USER"),
                                                        System.getenv("MYSQL_PASSWORD"));
             Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS visits (n INT)");
            s.execute("INSERT INTO visits VALUES (7)");
            ResultSet r = s.executeQuery("SELECT SUM(n) FROM visits");
            r.next();
            System.out.println("sum " + r.getInt(1));
        }
    }
}
"""


async def test_java_reaches_the_session_database_over_jdbc(sessions: Running) -> None:
    client = await Client.connect(sessions.ws_url)
    try:
        first = await client.run({"Main.java": JDBC}, language="java")
        second = await client.run({"Main.java": JDBC}, language="java")
    finally:
        await client.close()
    assert (first.verdict, first.stdout) == ("ok", "sum 7\n"), first.stderr
    assert second.stdout == "sum 14\n", "the data lasted from one run to the next"


async def test_a_resumed_session_takes_over_what_its_last_socket_left(sessions: Running) -> None:
    first = await Client.connect(sessions.ws_url)
    token = first.session["token"]
    spin = await first.submit({"spin.py": "print('go', flush=True)\nwhile True:\n    pass\n"},
                              request_id="spin")
    while (await first.receive()).get("type") != "output":
        pass
    quick = await first.submit({"quick.py": "import time\ntime.sleep(1)\nprint('done')\n"},
                               request_id="quick")
    await first.close()
    # quick completes while no socket listens
    await stored_completion(sessions.nats_url, quick["executionId"], wait_s=60)
    again = await Client.connect(sessions.ws_url, token=token)
    try:
        finished = await asyncio.wait_for(again.collect(quick["executionId"]), 60)
        assert finished.verdict == "ok"
        await again.send({"type": "stop", "executionId": spin["executionId"]})
        stopped = await asyncio.wait_for(again.collect(spin["executionId"]), 60)
        assert stopped.verdict == "cancelled"
    finally:
        await again.close()


@pytest.fixture(scope="module")
def brief_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A platform whose sessions expire after 2 s idle: less than it takes to make one."""
    with running_platform(tmp_path_factory.mktemp("brief"), CONTAINER_TTL="2") as running:
        yield running


async def test_a_session_that_takes_longer_to_make_than_its_ttl_still_runs(
    brief_sessions: Running,
) -> None:
    """Its network, database and sandbox take seconds to make: held by the run from the start,
    the session does not expire under it (it did: the runner removed the network or the
    database while the sandbox was being made, and the run failed ``internal_error``)."""
    client = await Client.connect(brief_sessions.ws_url)
    try:
        made = await client.run({"make.sql": "CREATE TABLE t (n INT);\nINSERT INTO t VALUES (5);"},
                                language="sql", request_id="make")
        assert (made.verdict, made.stderr) == ("ok", "")
        server, _ = await start_server(client)
        talked = await client.run({"client.py": CLIENT}, request_id="client")
        assert (talked.verdict, talked.stdout) == ("ok", "echo:hello\n"), talked.stderr
        await client.send({"type": "stop", "executionId": server})
        assert (await client.collect(server)).verdict == "cancelled"
    finally:
        await client.close()

"""A secured NATS cluster made by ``coderunner.secure_nats`` (what infra/deploy sets up): the real
dispatcher and runner bus work through it with their own credentials, and a runner's
credentials cannot end a job it was not given, read another job (the RUN stream), the limits
bucket or an execution's record, take another runner's jobs, nor join the cluster's routes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from coderunner.nats_server import binary, free_ports
from coderunner.secure_nats import NatsNode, make
from contracts import subjects
from contracts.judging import JudgementResult
from contracts.messages import (
    CompletionEvent,
    Control,
    ControlReply,
    JobFile,
    NotebookCommand,
    NotebookReply,
    ProgramJob,
    RunnerInfo,
    StatusEvent,
    StoredOutput,
    encode,
)
from contracts.nats_options import NatsOptions, connect_options
from contracts.session_control import SessionCommand, SessionResources
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from janitor.bus import live_runners
from runners.bus import CompletionRefused, RunnerBus
from tests.integration.test_completion_relay import bound_runner

WAIT_S = 20.0
"""A bound on waiting for an event that should come at once (a failure, not a threshold)."""
GIVEN: dict[str, str] = {}
"""Execution → runner, as the dispatcher's fleet remembers whom it gave each job to."""


def _env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line and not line.startswith("#"))


class Server:
    def __init__(self, config: Path, log: Path, monitor: int) -> None:
        """``monitor``: its monitoring port, chosen with the configuration's
        (``free_ports``: ports chosen one after another may repeat)."""
        self.log = log
        self.monitor = monitor
        self.process = subprocess.Popen([binary(), "-c", str(config), "-l", str(log),
                                         "-m", str(self.monitor)])

    def routes(self) -> set[str]:
        """The servers this one has routes with (pooled: several connections each)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/routez") as answer:
            return {route["remote_name"] for route in json.load(answer)["routes"]}

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in (self.log.read_text() if self.log.exists() else ""):
            assert time.monotonic() < deadline, f"{text!r} never in {self.log}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Server]]]:
    out = tmp_path_factory.mktemp("secured")
    ports = free_ports(6)
    nodes = [NatsNode(f"n{i}", "127.0.0.1", ports[2 * i - 2], ports[2 * i - 1]) for i in (1, 2)]
    make(out, nodes, {"edge": ["e1"], "dispatcher": ["d1"], "runner": ["r1", "r2"],
                      "janitor": ["r1"]}, Path("here"), str(out / "store-{name}"))
    servers = [Server(out / "nats" / n.name / "nats-server.conf", out / f"{n.name}.log",
                      ports[4 + i])
               for i, n in enumerate(nodes)]
    try:
        for server in servers:
            server.wait_for_log("Server is ready")
        servers[0].wait_for_log("Route connection created")
        yield out, servers
    finally:
        for server in servers:
            server.stop()


def _options(out: Path, who: str) -> tuple[str, NatsOptions]:
    env = _env(out / who / "nats.env")
    return env["NATS_URL"], NatsOptions.from_env(env)


@pytest.fixture
async def buses(secured: tuple[Path, list[Server]]
                ) -> AsyncIterator[tuple[DispatcherBus, RunnerBus]]:
    out, _ = secured
    url, options = _options(out, "dispatcher-d1")
    dispatcher = await DispatcherBus.connect(DispatcherSettings(nats_url=url, nats=options))
    deadline = time.monotonic() + WAIT_S
    while True:  # until the cluster has elected its JetStream leader
        try:
            await dispatcher.ensure_streams()
            break
        except Exception:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    await dispatcher.relay_runner_completions(GIVEN.get)
    url, options = _options(out, "runner-r1")
    runner = await bound_runner(dispatcher, url, options, subjects.runner_inbox("r1"))
    yield dispatcher, runner
    await runner.close()
    await dispatcher.close()


def _job(execution_id: str) -> ProgramJob:
    return ProgramJob(execution_id=execution_id, owner="key:k", priority=1,
                      submitted_at=time.time(), language="python",
                      files=[JobFile("main.py", "print(1)")], main_file="main.py")


async def test_a_runner_completes_the_job_it_was_given_and_no_other(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    given = _job("given-1")
    assert await dispatcher.take_slot(given.execution_id, "r1")
    await dispatcher.release(given, encode(given), "r1", 0, given.execution_id)
    claimed = await runner.claim()
    assert claimed is not None and claimed.job.execution_id == "given-1"
    await runner.put_output("given-1", StoredOutput(stdout="1\n"))
    await runner.publish_completion(CompletionEvent("given-1", "ok"))
    assert await dispatcher.already_completed("given-1")

    assert await dispatcher.take_slot("other-1", "r2")  # given to another runner
    with pytest.raises(CompletionRefused):
        await runner.publish_completion(CompletionEvent("other-1", "ok"))
    assert not await dispatcher.already_completed("other-1")
    with pytest.raises(CompletionRefused):
        await runner.publish_completion(CompletionEvent("never-given", "ok"))
    assert not await dispatcher.already_completed("never-given")


async def test_the_relay_trusts_whom_it_gave_a_job_and_reads_the_slot_otherwise(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    GIVEN["fleet-1"] = "r1"  # no slot read: this dispatcher gave it to r1
    await runner.publish_completion(CompletionEvent("fleet-1", "ok"))
    assert await dispatcher.already_completed("fleet-1")

    GIVEN["fleet-2"] = "r2"  # given to r2, then moved to r1 by another dispatcher
    assert await dispatcher.take_slot("fleet-2", "r1")
    await runner.publish_completion(CompletionEvent("fleet-2", "ok"))
    assert await dispatcher.already_completed("fleet-2")

    GIVEN["fleet-3"] = "r2"  # given to r2 only
    assert await dispatcher.take_slot("fleet-3", "r2")
    with pytest.raises(CompletionRefused):
        await runner.publish_completion(CompletionEvent("fleet-3", "ok"))
    assert not await dispatcher.already_completed("fleet-3")


async def _ask(nc: NatsClient, subject: str, data: bytes) -> bytes:
    """A request as the edge or the CLI sends it, answered by the runner. The two may be on
    different nodes of the cluster: the runner's subscription reaches the edge's node over a
    route a moment after the runner's own flush ("no responders" meanwhile, seen in CI); a
    refused permission never answers, whatever the wait."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return bytes((await nc.request(subject, data, timeout=5)).data)
        except nats.errors.NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_a_runners_credentials_allow_everything_its_bus_does(
        secured: tuple[Path, list[Server]], buses: tuple[DispatcherBus, RunnerBus]) -> None:
    """Every RunnerBus operation through a runner's credentials: a permission it lacks is a
    server error (caught here) or a request that nobody answers."""
    out, _ = secured
    dispatcher, _ = buses
    refused: list[str] = []

    async def on_error(exc: Exception) -> None:
        refused.append(str(exc))

    url, options = _options(out, "runner-r1")
    runner_nc = await nats.connect(**connect_options(url, options, "runner-r1",
                                                     subjects.runner_inbox("r1")),
                                   error_cb=on_error)
    url, options = _options(out, "edge-e1")
    edge = await nats.connect(**connect_options(url, options, "edge-e1"))
    runner = RunnerBus(runner_nc, runner_nc.jetstream())
    try:
        store = await edge.jetstream().create_object_store(subjects.PROBLEMS_STORE)
        await store.put("a" * 64, b"3 4\n")
        await runner.heartbeat(RunnerInfo("r1", {}, capacity=2, at=time.time()))
        await runner.bind("r1")
        job = _job("every-1")
        assert await dispatcher.take_slot(job.execution_id, "r1")
        await dispatcher.release(job, encode(job), "r1", 0, job.execution_id)
        claimed = await runner.claim()
        assert claimed is not None and claimed.job.execution_id == "every-1"
        await claimed.in_progress()
        runner.ack_wait_s = 0.0  # as if it waited here past the ack wait: the slot is read
        assert not await runner._moved_meanwhile(claimed._msg, "every-1")
        assert await dispatcher.take_slot("every-1", "r2")  # moved meanwhile
        assert await runner._moved_meanwhile(claimed._msg, "every-1")
        assert await dispatcher.take_slot("every-1", "r1")  # and back
        runner.ack_wait_s = 30.0
        assert await runner._consumer_exists()
        await runner.mark_running("every-1")
        await runner.publish_event(StatusEvent("every-1", "running"))
        assert await runner.problem_data("a" * 64) == b"3 4\n"
        assert await runner.problem_data("b" * 64) is None
        await runner.put_output("every-1", StoredOutput(stdout="1\n"))
        await runner.put_judgement("every-1", JudgementResult(
            "every-1", "accepted", passed=0, total=0, score=0, max_score=0, tests=[]))

        async def on_control(control: Control) -> ControlReply:
            return ControlReply()

        async def on_session(command: SessionCommand) -> SessionResources:
            return SessionResources("r1")

        async def on_notebook(command: NotebookCommand) -> NotebookReply:
            return NotebookReply("interrupted")

        async def drain() -> int:
            return 0

        await runner.subscribe_control("every-1", on_control)
        await runner.subscribe_sessions(on_session)
        await runner.subscribe_notebook("k1", on_notebook)
        await runner.on_drain("r1", drain)
        await runner_nc.flush()
        assert await _ask(edge, subjects.control("every-1"),
                          encode(Control("every-1", "eof"))) == encode(ControlReply())
        assert b"r1" in await _ask(edge, subjects.SESSION_CONTROL,
                                   b'{"owner":"key:k","action":"resources"}')
        assert b"interrupted" in await _ask(edge, subjects.notebook_control("k1"),
                                     b'{"action":"interrupt"}')
        assert await _ask(edge, subjects.runner_drain("r1"), b"") == b'{"running":0}'
        assert not await runner.already_completed("every-1")
        await runner.publish_completion(CompletionEvent("every-1", "ok"))
        assert await runner.already_completed("every-1")
        seated = _job("every-2")  # on one of its seats
        await dispatcher.release_on_seat(encode(seated), "r1", 0, 0, "every-2")
        on_seat = await runner.claim()
        assert on_seat is not None and on_seat.job.execution_id == "every-2"
        runner.ack_wait_s = 0.0  # as if it waited past the ack wait: its own seat is read
        assert not await runner._moved_meanwhile(on_seat._msg, "every-2")
        runner.ack_wait_s = 30.0
        await runner.publish_completion(CompletionEvent("every-2", "ok"), on_seat.seat)
        assert await runner.already_completed("every-2")
        runner.ack_wait_s = 0.0  # its seat emptied by the relay, the job completed: acked
        assert await runner._moved_meanwhile(on_seat._msg, "every-2")
        moved = _job("every-3")
        await dispatcher.release_on_seat(encode(moved), "r1", 1, 0, "every-3")
        runner.ack_wait_s = 30.0
        on_seat = await runner.claim()
        assert on_seat is not None and on_seat.seat is not None
        await dispatcher.free_seat("r1", 1, int(on_seat.seat.split()[1]))  # moved meanwhile
        runner.ack_wait_s = 0.0
        assert await runner._moved_meanwhile(on_seat._msg, "every-3")
        later = _job("every-4")  # and the seat given to another job since
        await dispatcher.release_on_seat(encode(later), "r1", 1, 0, "every-4")
        assert await runner._moved_meanwhile(on_seat._msg, "every-3")
        runner.ack_wait_s = 30.0
        await dispatcher.free_slot("every-1")  # completed: a copy delivered late is not run
        runner.ack_wait_s = 0.0
        assert await runner._moved_meanwhile(claimed._msg, "every-1")  # and acked it
        runner.ack_wait_s = 30.0
        await runner.leave("r1")
        await runner_nc.flush()
    finally:
        await edge.close()
        await runner.close()
    assert refused == []


async def test_a_runners_credentials_are_refused_everything_else(
        secured: tuple[Path, list[Server]], buses: tuple[DispatcherBus, RunnerBus]) -> None:
    out, _ = secured
    dispatcher, _ = buses
    refused: asyncio.Queue[str] = asyncio.Queue()

    async def on_error(exc: Exception) -> None:
        await refused.put(str(exc))

    url, options = _options(out, "runner-r1")
    nc = await nats.connect(**connect_options(url, options, "rogue",
                                              subjects.runner_inbox("r1")), error_cb=on_error)
    try:
        for subject in (
            subjects.completed("other-2"),  # straight into COMPLETIONS
            subjects.runner_completed("r2", "other-2"),  # as another runner
            f"$JS.API.STREAM.INFO.{subjects.kv_stream(subjects.LIMITS_BUCKET)}",  # API keys'
            f"$JS.API.STREAM.MSG.GET.{subjects.RUN_STREAM}",  # any job's source and stdin
            f"$JS.API.STREAM.MSG.GET.{subjects.kv_stream(subjects.EXECUTIONS_BUCKET)}",
            f"$KV.{subjects.EXECUTIONS_BUCKET}.{subjects.record_key('other-2')}",
            f"$JS.API.CONSUMER.MSG.NEXT.{subjects.RUN_STREAM}.{subjects.runner_consumer('r2')}",
            f"$JS.API.STREAM.MSG.GET.{subjects.SEATS_STREAM}",  # any seat's job
            f"$JS.API.DIRECT.GET.{subjects.SEATS_STREAM}.{subjects.seat('r2', 0)}",
            f"$JS.API.CONSUMER.MSG.NEXT.{subjects.SEATS_STREAM}.{subjects.runner_consumer('r2')}",
            subjects.seat("r1", 0),  # a job of its own making
            subjects.released("other-2"),  # telling dispatchers of a release
            f"$KV.{subjects.RUNNERS_BUCKET}.r2",
        ):
            await nc.publish(subject, b"{}")
            error = await asyncio.wait_for(refused.get(), WAIT_S)
            assert f'permissions violation for publish to "{subject.lower()}"' in error.lower()
        await nc.subscribe("_INBOX.>")  # other clients' replies
        error = await asyncio.wait_for(refused.get(), WAIT_S)
        assert 'permissions violation for subscription to "_inbox.>"' in error.lower()
    finally:
        await nc.close()
    assert not await dispatcher.already_completed("other-2")

    url, options = _options(out, "janitor-r1")
    assert await asyncio.to_thread(live_runners, url, options) == {"r1"}


def test_a_server_with_a_runners_certificate_cannot_join_the_routes(
        secured: tuple[Path, list[Server]], tmp_path: Path) -> None:
    out, servers = secured
    first = (out / "nats" / "n1" / "nats-server.conf").read_text()
    route_password = first.split('authorization { user: "route", password: "')[1].split('"')[0]
    route_port = first.split("cluster {")[1].split('listen: "0.0.0.0:')[1].split('"')[0]
    runner = out / "runner-r1"
    clients, routes, monitor = free_ports(3)
    rogue_config = tmp_path / "rogue.conf"
    rogue_config.write_text(
        f'server_name: "rogue"\nlisten: "127.0.0.1:{clients}"\n'
        f'cluster {{ name: "coderunner", listen: "127.0.0.1:{routes}",\n'
        f'  tls {{ cert_file: "{runner}/cert.pem", key_file: "{runner}/key.pem", '
        f'ca_file: "{out}/nats/n1/route-ca.pem", timeout: 2 }}\n'
        f'  routes: ["nats-route://route:{route_password}@127.0.0.1:{route_port}"] }}\n')
    assert servers[0].routes() == {"n2"}
    rogue = Server(rogue_config, tmp_path / "rogue.log", monitor)
    try:
        servers[0].wait_for_log("TLS route handshake error")
        assert servers[0].routes() == {"n2"}
    finally:
        rogue.stop()

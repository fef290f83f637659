"""A real platform for integration tests: a nats-server on a free port, and the dispatcher,
runner, edge and janitor as processes (the same ones `coderunner up` starts), on the real
Docker engine. Started once per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from coderunner.nats_server import NatsServer, free_port
from coderunner.up import Platform, remove_runner_containers

CANARY = "canary-7f1d0c-never-in-a-sandbox"


def need_root(what: str) -> None:
    """Fail (never skip) a test that needs root when it runs without."""
    if os.geteuid() != 0:
        pytest.fail(f"{what} need root: run the tests as root (CI does)", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    fail_if_skipped_in_ci(report)
    return report


@pytest.hookimpl(tryfirst=True)  # before the terminal counts it, however this was loaded
def pytest_collectreport(report: pytest.CollectReport) -> None:
    fail_if_skipped_in_ci(report)


def fail_if_skipped_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CI=true a skipped test fails the run: a test that does not run proves nothing."""
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (nothing may be skipped there): {reason}"


@dataclass
class Running:
    url: str
    nats_url: str
    runner_id: str
    data_dir: Path
    nats: NatsServer | None = None
    up: Platform | None = None
    isolation: str = "runc"
    """What its sandboxes run under (its runner's DEFAULT_ISOLATION): ``runc`` or ``gvisor``."""

    def pid(self, role: str) -> int:
        """The process id of one of the platform's components."""
        assert self.up is not None
        return self.up.children[role].pid

    def restart_nats(self) -> None:
        """Stop the nats-server and start it again on the same port and storage."""
        assert self.nats is not None
        port = self.nats.port
        self.nats.stop()
        self.nats = NatsServer(self.data_dir / "nats", port=port).start()

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"


@contextmanager
def running_platform(data: Path, **settings: str) -> Iterator[Running]:
    """A whole platform on a nats-server of its own; ``settings`` override the environment."""
    nats = NatsServer(data / "nats", port=0).start()
    runner_id = f"test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update({
        "NATS_URL": nats.url,
        "RUNNER_ID": runner_id,
        "PLATFORM_ID": runner_id,  # its janitor judges orphans only among its own
        "POOL_SIZE": "1",
        "LOG_LEVEL": "WARNING",
        "CODERUNNER_CANARY": CANARY,  # must never reach a sandbox
        # Tests sweep when they mean to: a scheduled pass (any platform's, on the one engine)
        # would remove the expired containers a janitor test makes before it looks at them.
        "JANITOR_INTERVAL": "3600",
        **settings,
    })
    up = Platform(data, env, port=free_port())
    running: Running | None = None
    try:
        up.start()
        up.wait_ready()
        running = Running(up.url, nats.url, runner_id, data, nats, up,
                          env.get("DEFAULT_ISOLATION") or "runc")
        yield running
    finally:
        up.stop()
        remove_runner_containers(env)
        (running.nats if running and running.nats else nats).stop()


@pytest.fixture
def nats_alone(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own (JetStream on), without a platform."""
    server = NatsServer(tmp_path / "nats", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


@pytest.fixture(scope="session")
def gvisor_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A platform whose every sandbox runs under gVisor (runsc): tests/security runs each attack
    on it as well as on ``platform`` (tests/security/conftest.py)."""
    with running_platform(tmp_path_factory.mktemp("gvisor"), DEFAULT_ISOLATION="gvisor") as running:
        yield running


KEYS = {"alice": "alice-secret-0123456789", "bob": "bob-secret-0123456789",
        "carol": "carol-secret-0123456789", "dave": "dave-secret-0123456789",
        "ops": "ops-secret-0123456789", "erin": "erin-secret-0123456789",
        "gina": "gina-secret-0123456789", "walt": "walt-secret-0123456789",
        "wendy": "wendy-secret-0123456789"}
WEBHOOK_SECRET = "whsec-test-0123456789"
WEBHOOK_ATTEMPTS = 4
"""Attempts at a callback on the ``keyed`` platform: 1, 2 and 4 s apart, so a callback that
fails every time is given up within a test's patience."""
PRINT = {"language": "python", "mainFile": "main.py",
         "files": [{"name": "main.py", "content": "print('hi')"}]}
SPIN = {"language": "python", "mainFile": "main.py",
        "files": [{"name": "main.py", "content": "while True: pass"}]}
"""Bodies of ``POST /api/v1/executions``: a quick program and one that runs until stopped."""


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of API key ``name`` of ``KEYS``."""
    return {"Authorization": f"Bearer {KEYS[name]}"}


async def cancel(http: httpx.AsyncClient, execution_id: str,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    """``DELETE /api/v1/executions/{id}``, then its result once ended: the API answers 202
    ("stopping") when the run has not ended within a few seconds (a busy host), and the
    result is then read with ``?wait=true``, as a client would (docs/api.md)."""
    response = await http.delete(f"/api/v1/executions/{execution_id}", headers=headers)
    if response.status_code == 202:
        response = await http.get(f"/api/v1/executions/{execution_id}?wait=true",
                                  headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(scope="session")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A platform with API keys (``ops`` is the admin, ``gina``'s code runs under gVisor), a
    rate limit of 60 requests a minute,
    two unfinished executions per key, and callbacks to loopback allowed (``WEBHOOK_ATTEMPTS``
    attempts)."""
    settings = {
        "API_KEYS": ",".join(f"{name}:{secret}" for name, secret in KEYS.items()),
        "ADMIN_KEYS": "ops",
        "GVISOR_KEYS": "gina",
        "RATE_LIMIT_PER_MINUTE": "60",
        "KEY_MAX_CONCURRENT": "2",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_MAX_ATTEMPTS": str(WEBHOOK_ATTEMPTS),
        "CALLBACK_ALLOW_PRIVATE": "1",
    }
    with running_platform(tmp_path_factory.mktemp("keyed"), **settings) as running:
        yield running

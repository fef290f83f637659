"""How a runner knows that the kernel's OOM killer ended a sandbox (under gVisor a program over
its memory limit takes the whole sandbox with it): ``runners.sandbox.died_of_oom``, on real
Docker and gVisor.

Docker 20.10 sets ``State.OOMKilled`` only when the OOM event reaches it before the container's
exit; the CI run that found it ended a gVisor PHP memory bomb ``internal_error``. The test makes
that race certain by hiding the flag, so only the engine's event log can tell."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from runners.sandbox import died_of_oom

pytestmark = pytest.mark.timeout(120)
BOMB = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n"


@pytest.fixture
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def ended_container(engine: docker.DockerClient, command: list[str]) -> str:
    """A gVisor container with 64 MB that has run ``command`` to its end."""
    container = engine.containers.create(
        "coderunner/python", command, name=f"coderunner-test-oom-{uuid.uuid4().hex[:8]}",
        runtime="runsc", mem_limit="64m", memswap_limit="64m", network_disabled=True)
    container.start()
    container.wait(timeout=60)
    return str(container.id)


class FlagLost:
    """The engine's API, but ``State.OOMKilled`` is always false (the race, made certain)."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        state = dict(self._api.inspect_container(container_id))
        state["State"] = {**state["State"], "OOMKilled": False}
        return state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


def test_an_oom_kill_is_found_even_when_the_engine_lost_its_flag(
        engine: docker.DockerClient) -> None:
    container_id = ended_container(engine, ["python3", "-c", BOMB])
    try:
        assert died_of_oom(engine.api, container_id)
        assert died_of_oom(FlagLost(engine.api), container_id)  # type: ignore[arg-type]
    finally:
        engine.api.remove_container(container_id, force=True)


def test_a_container_that_ended_otherwise_did_not_die_of_oom(
        engine: docker.DockerClient) -> None:
    ended = ended_container(engine, ["true"])
    killed = engine.containers.create(
        "coderunner/python", ["sleep", "60"], name=f"coderunner-test-oom-{uuid.uuid4().hex[:8]}",
        runtime="runsc", mem_limit="64m", memswap_limit="64m", network_disabled=True)
    killed.start()
    killed.kill()  # SIGKILL from outside: exit 137, as an OOM kill, but no OOM event
    try:
        assert killed.wait(timeout=60)["StatusCode"] == 137
        for container_id in (ended, str(killed.id)):
            assert not died_of_oom(FlagLost(engine.api), container_id)  # type: ignore[arg-type]
    finally:
        for container_id in (ended, str(killed.id)):
            engine.api.remove_container(container_id, force=True)

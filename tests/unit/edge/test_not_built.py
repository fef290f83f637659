"""A program of a catalog language that no live runner serves (its image is not built) is
refused at once, saying how to build it, instead of waiting in the queue until it expires; and
``GET /api/v1/runtimes`` gives the command for each language not built."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from contracts.messages import RunnerInfo
from contracts.runtimes import load_catalog
from contracts.settings import DEFAULT_RUNTIMES_DIR
from edge.api import runtime_infos
from edge.runner_versions import RunnerVersions
from edge.sessions import SessionTokens
from edge.ws import Connection

CATALOG = load_catalog(DEFAULT_RUNTIMES_DIR)


def versions(*served: dict[str, str]) -> RunnerVersions:
    runners = [RunnerInfo(f"r{n}", languages, 0, 4, 0.0) for n, languages in enumerate(served)]

    async def alive() -> list[RunnerInfo]:
        return runners

    bus: Any = SimpleNamespace(runners=SimpleNamespace(alive=alive))
    return RunnerVersions(bus)


async def test_a_language_no_live_runner_serves_is_refused_saying_how_to_build_it() -> None:
    live = versions({"python": "3.13"}, {"c": "14.2"})
    assert await live.not_built("python") is None
    why = await live.not_built("ada")
    assert why is not None and "`coderunner images build --language ada`" in why


async def test_with_no_live_runner_nothing_is_refused_the_job_waits() -> None:
    assert await versions().not_built("ada") is None


async def test_the_socket_answers_not_built_and_submits_nothing() -> None:
    class Socket:
        async def close(self, code: int, reason: str) -> None: ...

    bus: Any = None  # a submit would fail on it
    connection = Connection(Socket(), bus, CATALOG, "0" * 32, "token",  # type: ignore[arg-type]
                            SessionTokens("unit-test-secret"), versions=versions({"c": "14.2"}))
    await connection.handle_frame(json.dumps({
        "type": "execute_code", "requestId": "r1", "language": "gnat", "mainFile": "main.adb",
        "files": [{"name": "main.adb", "content": "procedure Main is begin null; end Main;"}]}))
    error = json.loads(connection.outbox.get_nowait())
    assert (error["type"], error["code"], error["requestId"]) == ("error", "not_built", "r1")
    assert "coderunner images build --language ada" in error["message"]


def test_the_runtimes_list_gives_the_build_command_of_each_language_not_built() -> None:
    infos = {i.name: i for i in runtime_infos(CATALOG, {"python": "3.13.5"})}
    assert infos["python"].build_command == ""
    assert infos["ada"].build_command == "coderunner images build --language ada"

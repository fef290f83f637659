"""A runner serves the language images built after it started (``coderunner images build
--language X``), without a restart: their pools, and the heartbeat that tells dispatchers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from contracts.runtimes import Catalog, Runtime
from contracts.settings import RunnerSettings
from runners.runner import Runner


def runtime(name: str) -> Runtime:
    return Runtime(name=name, display_name=name, extension=f".{name}", image=name,
                   run=[name, "{main}"])


def runner(versions: dict[str, str]) -> Runner:
    sandboxes: Any = SimpleNamespace(_api=None, _settings=RunnerSettings(), instance="i",
                                     remove=None, destroy=None)
    bus: Any = SimpleNamespace(subscribe_notebook=None, subscribe_control=None)
    catalog = Catalog([runtime("lua"), runtime("ada")])
    return Runner(RunnerSettings(), catalog, sandboxes, bus, versions, None, {"lua": "h-lua"})


def test_an_image_built_after_the_start_is_served_with_its_pool_and_told() -> None:
    serving = runner({"lua": "5.4"})
    found = {"lua": ("5.4", "h-lua-rebuilt"), "ada": ("14.2", "h-ada"), "cobol": ("3", "h")}
    assert serving.serve_images(found) == ["ada"]
    assert set(serving.pools) == {("lua", "runc"), ("ada", "runc")}
    info = serving.heartbeat_info()
    assert info.versions == {"lua": "5.4", "ada": "14.2"}
    assert info.images == {"lua": "h-lua", "ada": "h-ada"}  # lua keeps its first reading
    assert serving.serve_images(found) == []


def test_every_pool_of_a_runner_takes_turns_with_the_others() -> None:
    serving = runner({"lua": "5.4"})
    serving.serve_images({"ada": ("14.2", "h-ada")})
    lua, ada = serving.pools[("lua", "runc")], serving.pools[("ada", "runc")]
    assert lua._turns is ada._turns

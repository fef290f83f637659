"""The multi-host bed's sandbox locator, against an engine that is gone: it answers None and
leaves no socket open (docker-py leaves the socket of a failed connect open)."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker

from coderunner.multihost import Locator


class GoneEngine:
    name = "gone"

    def __init__(self, socket: Path) -> None:
        self.socket_url = f"unix://{socket}"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.socket_url, version="1.41", timeout=timeout)

    def answers(self) -> bool:
        return False


def test_a_locator_does_not_connect_to_an_engine_that_is_gone(tmp_path: Path) -> None:
    host: Any = SimpleNamespace(engine=GoneEngine(tmp_path / "docker.sock"))
    locator = Locator([host])
    try:
        assert locator.engine_of("0123456789ab") is None
        assert locator.engine_of("") is None
    finally:
        locator.close()
    gc.collect()  # an unclosed socket would be reported here (warnings are errors)

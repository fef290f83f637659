"""Every test here runs twice: on the shared ``platform`` (runc) and on ``gvisor_platform``,
whose sandboxes all run under gVisor. A verdict that differs under gVisor is asserted per
``platform.isolation`` (docs/reliability.md says which)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Running

ISOLATIONS = ("runc", "gvisor")
ONCE = {"test_socket_fuzz.py"}
"""Attacks on the edge, not on a sandbox: the isolation changes nothing they test."""


@pytest.fixture(scope="session", params=ISOLATIONS)
def platform(request: pytest.FixtureRequest, platform: Running) -> Running:
    if request.param == "runc":
        return platform
    gvisor: Running = request.getfixturevalue("gvisor_platform")
    return gvisor


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    once = [item for item in items if Path(item.path).name in ONCE
            and getattr(item, "callspec", None) is not None
            and item.callspec.params.get("platform") == "gvisor"]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]

"""Every test here runs twice: on the shared ``platform`` (runc) and on ``gvisor_platform``,
whose sandboxes all run under gVisor. A verdict that differs under gVisor is asserted per
``platform.isolation`` (docs/reliability.md says which)."""

from __future__ import annotations

import pytest

from tests.conftest import Running

ISOLATIONS = ("runc", "gvisor")


@pytest.fixture(scope="session", params=ISOLATIONS)
def platform(request: pytest.FixtureRequest, platform: Running) -> Running:
    if request.param == "runc":
        return platform
    gvisor: Running = request.getfixturevalue("gvisor_platform")
    return gvisor

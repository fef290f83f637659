"""Which isolation ran a program: the completion says so, and the kernel the program sees
proves it (gVisor's own kernel answers ``uname`` with 4.4.0, runc's is the host's)."""

from __future__ import annotations

import os

from tests.conftest import Running
from tests.integration.wsclient import Client

GVISOR_RELEASE = "4.4.0"


async def test_the_completion_names_the_isolation_and_the_program_sees_its_kernel(
    platform: Running,
) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        result = await client.run({"main.py": "import os; print(os.uname().release)"})
    finally:
        await client.close()
    assert (result.verdict, result.completion["isolation"]) == ("ok", platform.isolation)
    kernel = {"runc": os.uname().release, "gvisor": GVISOR_RELEASE}[platform.isolation]
    assert result.stdout == kernel + "\n"

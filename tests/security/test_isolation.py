"""Which isolation ran a program: the completion says so, and the kernel the program sees
proves it (gVisor's own kernel answers ``uname`` with 4.4.0, runc's is the host's)."""

from __future__ import annotations

import os

import httpx

from tests.conftest import Running, bearer
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


async def test_a_gvisor_key_runs_under_gvisor_and_other_keys_under_runc(keyed: Running) -> None:
    """``gina`` is in the keyed platform's GVISOR_KEYS; its runner's default is runc."""
    uname = {"language": "python", "mainFile": "main.py",
             "files": [{"name": "main.py", "content": "import os; print(os.uname().release)"}]}
    async with httpx.AsyncClient(base_url=keyed.url, timeout=60, trust_env=False) as http:
        for name, isolation, kernel in (("gina", "gvisor", GVISOR_RELEASE),
                                        ("alice", "runc", os.uname().release)):
            response = await http.post("/api/v1/executions?wait=true", json=uname,
                                       headers=bearer(name))
            result = response.json()
            assert (result["verdict"], result["isolation"], result["stdout"]) == (
                "ok", isolation, kernel + "\n"), result

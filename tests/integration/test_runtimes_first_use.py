"""A language whose image is not built, on a real platform: listed with the command that builds
it, a program in it refused at once (``not_built``), and served without a restart once its image
appears (docs/runtimes.md, Building a language on first use). The "build" is a tag of the lua
image under the new language's image name: what the runner notices is the same."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.settings import DEFAULT_RUNTIMES_DIR
from tests.conftest import running_platform
from tests.integration.wsclient import Client

pytestmark = pytest.mark.timeout(300)
PATIENCE_S = 90.0
"""How long the test waits for the platform to see a change (not a performance goal)."""


@pytest.fixture
def image() -> Iterator[str]:
    """The new language's image name; its tag is removed afterwards (the lua image stays)."""
    name = f"first-use-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "rmi", f"coderunner/{name}"], capture_output=True, check=False)


async def runtimes_when(url: str, done: Any) -> dict[str, dict[str, Any]]:
    """GET /api/v1/runtimes by name, once ``done`` holds for it."""
    async with httpx.AsyncClient() as http:
        async def poll() -> dict[str, dict[str, Any]]:
            while True:
                listed = {r["name"]: r for r in
                          (await http.get(f"{url}/api/v1/runtimes")).json()}
                if done(listed):
                    return listed
                await asyncio.sleep(0.2)

        return await asyncio.wait_for(poll(), PATIENCE_S)


async def test_a_language_not_built_is_refused_then_served_once_built(
        tmp_path: Path, image: str) -> None:
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    shutil.copy(DEFAULT_RUNTIMES_DIR / "lua.toml", runtimes)
    lua = (DEFAULT_RUNTIMES_DIR / "lua.toml").read_text()
    (runtimes / "newlua.toml").write_text(
        lua.replace('name = "lua"', 'name = "newlua"').replace('aliases = ["lua5.4"]',
                                                             'aliases = []')
        .replace('image = "lua"', f'image = "{image}"'))
    with running_platform(tmp_path / "platform", RUNTIMES_DIR=str(runtimes)) as platform:
        listed = await runtimes_when(platform.url, lambda r: r["lua"]["built"])
        assert (listed["newlua"]["built"], listed["newlua"]["buildCommand"]) == (
            False, "coderunner images build --language newlua")
        client = await Client.connect(platform.ws_url)
        try:
            refused = await client.submit({"main.lua": "print('hi')"}, language="newlua")
            assert (refused["type"], refused["code"]) == ("error", "not_built"), refused
            assert "coderunner images build --language newlua" in refused["message"]

            subprocess.run(["docker", "tag", "coderunner/lua", f"coderunner/{image}"],
                           check=True)
            await runtimes_when(platform.url, lambda r: r["newlua"]["built"])
            result = await client.run({"main.lua": "print('hi')"}, language="newlua")
            assert (result.verdict, result.stdout) == ("ok", "hi\n")
        finally:
            await client.close()

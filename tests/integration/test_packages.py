"""Packages on demand (docs/packages.md) on a platform of their own whose fetcher is pointed, by
pip's and npm's own settings, at a package index on loopback (coderunner/packages_index.py):
a wheel and an npm package install and import; the second run is served from the layer cache;
an unknown package is ``compile_error``; an install script is contained; two owners with
different versions each get theirs; ``%pip install`` in a notebook installs into the running
kernel, whose state stays, and a second kernel's install is served from the cache."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from coderunner.bench_packages import layers, remove_layers
from coderunner.packages_index import Index, serving, tarball
from contracts.packages import LAYER_USER
from contracts.subjects import RUNNER_HEARTBEAT_S
from tests.conftest import Running, running_platform

TOKEN = uuid.uuid4().hex[:12]
"""In every package's content: this session's layers are new ones, never an earlier run's."""
KEYS = {"ann": "ann-secret-0123456789", "ben": "ben-secret-0123456789",
        "cid": "cid-secret-0123456789", "dan": "dan-secret-0123456789"}
ESCAPE = f"/tmp/pk-escape-{TOKEN}"
PWNED = f"/tmp/pk-pwned-{TOKEN}"
"""What the sdist a wheel's metadata points at writes when it is built on the host."""
LAYER_MB = 4
INSTALL_TIMEOUT_S = 20
"""The install limits of this platform: room for the test packages, not for bignpm's file;
time for an install on a loaded machine, not for slownpm's."""
PROBE = """
const fs = require('fs'), net = require('net');
const results = [];
for (const path of ['/etc/pk-escape', '%(escape)s', '/opt/pk-escape']) {
  try { fs.writeFileSync(path, 'x'); results.push(path + ': written'); }
  catch (e) { results.push(path + ': ' + e.code); }
}
const socket = net.connect({host: '127.0.0.1', port: %(port)d});
socket.on('connect', () => { results.push('registry: connected'); done(); });
socket.on('error', (e) => { results.push('registry: ' + e.code); done(); });
function done() { fs.writeFileSync('result.txt', results.join('\\n') + '\\n'); process.exit(0); }
"""


@pytest.fixture(scope="module")
def index() -> Iterator[Index]:
    with serving(Index()) as served:
        port = int(served.url.rsplit(":", 1)[1])
        for version in ("1.0", "2.0"):
            served.add_wheel("tinypkg", version, {
                "tinypkg/__init__.py": f"VERSION = {version!r}\nTOKEN = {TOKEN!r}\n"})
        served.files["evilpkg-1.0.tar.gz"] = tarball({
            "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                              'backend-path = ["."]\n',
            "backend.py": f"open({PWNED!r}, 'w').write('built on the host')\n"}, "evilpkg-1.0")
        served.add_wheel("lurepkg", "1.0", {"lurepkg/__init__.py": ""}, requires=(
            f"evilpkg @ {served.url}/files/evilpkg-1.0.tar.gz",))
        served.add_wheel("lonepkg", "1.0", {"lonepkg/__init__.py": f"VERSION = '1.0'  # {TOKEN}\n"})
        served.add_wheel("nbpkg", "1.0", {
            "nbpkg/__init__.py": f"VERSION = '1.0'\nTOKEN = {TOKEN!r}\n"})
        served.add_npm("tinynpm", "1.0.0", {
            "index.js": f"module.exports = 'tinynpm 1.0.0 {TOKEN}';\n",
            "index.d.ts": "declare const greeting: string;\nexport = greeting;\n"})
        served.add_npm("bignpm", "1.0.0", {"index.js": ""}, scripts={
            "postinstall": f"head -c {2 * LAYER_MB * 2**20} /dev/zero > big.bin"})
        served.add_npm("slownpm", "1.0.0", {"index.js": ""}, scripts={"install": "sleep 600"})
        served.add_npm("probenpm", "1.0.0", {
            "index.js": "module.exports = require('fs').readFileSync("
                        "__dirname + '/result.txt', 'utf8');\n",
            "probe.js": PROBE % {"escape": ESCAPE, "port": port}},
            scripts={"postinstall": "node probe.js"})
        yield served


@pytest.fixture(scope="module")
def packaged(index: Index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("fetcher-home")
    settings = {
        "PIP_INDEX_URL": f"{index.url}/simple/", "PIP_NO_CACHE_DIR": "1",
        "NPM_CONFIG_REGISTRY": f"{index.url}/", "NPM_CONFIG_CACHE": str(home / "npm"),
        "API_KEYS": ",".join(f"{name}:{secret}" for name, secret in KEYS.items()),
        "ADMIN_KEYS": "ann",
        "PACKAGES_MAX_LAYER_MB": str(LAYER_MB),
        "PACKAGES_INSTALL_TIMEOUT_S": str(INSTALL_TIMEOUT_S),
    }
    platform_id = ""
    try:
        with running_platform(tmp_path_factory.mktemp("packages"), **settings) as running:
            platform_id = running.runner_id
            yield running
    finally:
        if platform_id:  # once its containers are gone: a layer in use cannot be removed
            remove_layers(platform_id)


@pytest.fixture
async def api(packaged: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=packaged.url, timeout=180, trust_env=False) as client:
        yield client


async def run(api: httpx.AsyncClient, language: str, files: dict[str, str],
              owner: str = "ann") -> dict[str, Any]:
    main = next(name for name in files if name.startswith("main."))
    body = {"language": language, "mainFile": main,
            "files": [{"name": name, "content": content} for name, content in files.items()]}
    response = await api.post("/api/v1/executions?wait=true&timeout=170", json=body,
                              headers={"Authorization": f"Bearer {KEYS[owner]}"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


IMPORT_TINYPKG = "import tinypkg\nprint(tinypkg.VERSION, tinypkg.TOKEN)\n"


async def test_a_wheel_installs_and_imports_and_the_second_run_is_served_from_the_cache(
    api: httpx.AsyncClient,
) -> None:
    files = {"main.py": IMPORT_TINYPKG, "requirements.txt": "tinypkg==1.0\n"}
    first = await run(api, "python", files)
    assert (first["verdict"], first["stdout"]) == ("ok", f"1.0 {TOKEN}\n"), first
    assert "Installed tinypkg-1.0-py3-none-any.whl" in first["stderr"]
    second = await run(api, "python", files)
    assert (second["verdict"], second["stdout"]) == ("ok", f"1.0 {TOKEN}\n"), second
    assert second["stderr"] == ""  # no install step: the layer came from the cache


@pytest.mark.parametrize(("language", "main", "code"), [
    ("javascript", "main.js", "console.log(require('tinynpm'));\n"),
    ("javascript", "main.mjs", "import greeting from 'tinynpm';\nconsole.log(greeting);\n"),
    ("typescript", "main.ts",
     "import greeting from 'tinynpm';\nconst said: string = greeting;\nconsole.log(said);\n"),
])
async def test_an_npm_package_installs_and_is_required_or_imported(
    api: httpx.AsyncClient, language: str, main: str, code: str,
) -> None:
    files = {main: code, "package.json": '{"dependencies": {"tinynpm": "^1.0.0"}}'}
    result = await run(api, language, files, owner="dan")
    assert (result["verdict"], result["stdout"]) == ("ok", f"tinynpm 1.0.0 {TOKEN}\n"), result


@pytest.mark.parametrize(("language", "manifest", "said"), [
    ("python", {"requirements.txt": "nosuchpkg==1.0\n"},
     "No matching distribution found for nosuchpkg==1.0"),
    ("python", {"requirements.txt": "tinypkg==9.9\n"},
     "No matching distribution found for tinypkg==9.9"),
    ("javascript", {"package.json": '{"dependencies": {"nosuchnpm": "1.0.0"}}'},
     "404 Not Found"),
    ("python", {"requirements.txt": "--index-url http://example.invalid/simple\ntinypkg\n"},
     "requirements.txt line 1"),
])
async def test_an_unknown_package_or_version_is_a_compile_error_with_the_tools_words(
    api: httpx.AsyncClient, language: str, manifest: dict[str, str], said: str,
) -> None:
    main = {"main.py": "print('never')\n"} if language == "python" else \
        {"main.js": "console.log('never')\n"}
    result = await run(api, language, {**main, **manifest})
    assert result["verdict"] == "compile_error", result
    assert said in result["message"]
    assert result["stdout"] == ""


async def test_an_install_script_has_no_network_and_cannot_write_outside(
    api: httpx.AsyncClient,
) -> None:
    files = {"main.js": "process.stdout.write(require('probenpm'));\n"
                        f"console.log('escape kept:', require('fs').existsSync('{ESCAPE}'));\n",
             "package.json": '{"dependencies": {"probenpm": "1.0.0"}}'}
    result = await run(api, "javascript", files)
    assert result["verdict"] == "ok", result
    assert "probenpm@1.0.0 postinstall: node probe.js" in result["stderr"]
    assert result["stdout"] == (
        "/etc/pk-escape: EROFS\n"  # a read-only root
        f"{ESCAPE}: written\n"  # the install sandbox's own /tmp: gone with it
        "/opt/pk-escape: EROFS\n"
        "registry: ECONNREFUSED\n"  # its own loopback: the sandbox has no other network
        "escape kept: false\n")
    assert not Path(ESCAPE).exists()


async def test_two_owners_with_different_versions_each_get_theirs(
    api: httpx.AsyncClient,
) -> None:
    ann = await run(api, "python", {"main.py": IMPORT_TINYPKG,
                                    "requirements.txt": "tinypkg==1.0\n"}, owner="ann")
    ben = await run(api, "python", {"main.py": IMPORT_TINYPKG,
                                    "requirements.txt": "tinypkg==2.0\n"}, owner="ben")
    assert (ann["verdict"], ann["stdout"]) == ("ok", f"1.0 {TOKEN}\n"), ann
    assert (ben["verdict"], ben["stdout"]) == ("ok", f"2.0 {TOKEN}\n"), ben


async def test_a_layer_is_read_only_in_the_run(api: httpx.AsyncClient) -> None:
    code = ("import tinypkg, pathlib\n"
            "try:\n    pathlib.Path(tinypkg.__file__).write_text('x')\n"
            "except OSError as e:\n    print(type(e).__name__, e.errno)\n")
    result = await run(api, "python", {"main.py": code, "requirements.txt": "tinypkg==1.0\n"})
    assert (result["verdict"], result["stdout"]) == ("ok", "OSError 30\n"), result


def janitor_sweep(platform: Running, ttl_s: int) -> list[dict[str, str]]:
    env = {**os.environ, "NATS_URL": platform.nats_url, "PLATFORM_ID": platform.runner_id,
           "PACKAGES_LAYER_TTL_S": str(ttl_s)}
    out = subprocess.run([sys.executable, "-m", "coderunner", "janitor", "sweep", "--json"],
                         check=True, capture_output=True, text=True, env=env)
    removed: list[dict[str, str]] = json.loads(out.stdout)["removed"]
    return [r for r in removed if r["kind"] == "volume"]


async def test_the_janitor_removes_unused_layers_and_the_next_run_builds_its_own_again(
    api: httpx.AsyncClient, packaged: Running,
) -> None:
    files = {"main.py": "import lonepkg\nprint(lonepkg.VERSION)\n",
             "requirements.txt": "lonepkg==1.0\n"}
    before = layers(packaged.runner_id)
    await run(api, "python", files, owner="cid")
    (layer,) = layers(packaged.runner_id) - before
    # While a run has it mounted, a layer is in use whatever the TTL.
    busy = {**files, "main.py": "import lonepkg, time\ntime.sleep(60)\n"}
    started = await start(api, "python", busy, owner="cid")
    await until_status(api, started, "running", owner="cid")
    assert layer not in {r["name"] for r in janitor_sweep(packaged, ttl_s=0)}
    await api.delete(f"/api/v1/executions/{started}", headers=bearer("cid"))
    await until_status(api, started, "completed", owner="cid")
    # The owner's next run, without the layer, replaces the sandbox parked with it.
    await run(api, "python", {"main.py": "print(1)\n"}, owner="cid")
    await until_unmounted(layer)
    assert janitor_sweep(packaged, ttl_s=3600) == []
    assert layer in {r["name"] for r in janitor_sweep(packaged, ttl_s=0)}
    # What Docker leaves when a removed layer is mounted: an empty volume of its name, no label.
    client = docker.APIClient()
    try:
        client.create_volume(layer)
    finally:
        client.close()
    again = await run(api, "python", files, owner="cid")
    assert (again["verdict"], again["stdout"]) == ("ok", "1.0\n"), again
    assert "Installed lonepkg-1.0-py3-none-any.whl" in again["stderr"]


def bearer(owner: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[owner]}"}


async def start(api: httpx.AsyncClient, language: str, files: dict[str, str],
                owner: str) -> str:
    main = next(name for name in files if name.startswith("main."))
    body = {"language": language, "mainFile": main,
            "files": [{"name": name, "content": content} for name, content in files.items()]}
    response = await api.post("/api/v1/executions", json=body, headers=bearer(owner))
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def until_status(api: httpx.AsyncClient, execution_id: str, status: str,
                       owner: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = (await api.get(f"/api/v1/executions/{execution_id}", headers=bearer(owner))).json()
        if body["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{execution_id} never became {status}")


async def until_unmounted(layer: str) -> None:
    """Until no container mounts ``layer`` (a sandbox is removed in the background)."""
    deadline = time.monotonic() + 60
    client = docker.APIClient()
    try:
        while client.containers(all=True, filters={"label": f"{LAYER_USER}={layer}"}):
            assert time.monotonic() < deadline, f"{layer} is still mounted"
            await asyncio.sleep(0.1)
    finally:
        client.close()


async def test_the_runner_reports_its_layers_count_and_size(api: httpx.AsyncClient) -> None:
    await run(api, "python", {"main.py": IMPORT_TINYPKG, "requirements.txt": "tinypkg==1.0\n"})
    deadline = time.monotonic() + 5 * RUNNER_HEARTBEAT_S
    while time.monotonic() < deadline:  # the next heartbeat carries them
        metrics = (await api.get("/api/admin/metrics", headers={
            "Authorization": f"Bearer {KEYS['ann']}"})).json()
        runner = metrics["runners"][0]
        if runner["packageLayers"]:
            break
        await asyncio.sleep(0.2)
    assert runner["packageLayers"] >= 1
    assert runner["packageBytes"] > 0


@pytest.mark.parametrize(("package", "said"), [
    ("bignpm", "No space left on device"),
    ("slownpm", "installing the packages took more than its time limit"),
])
async def test_an_install_over_its_size_or_time_is_a_compile_error(
    api: httpx.AsyncClient, package: str, said: str,
) -> None:
    files = {"main.js": "console.log('never');\n",
             "package.json": f'{{"dependencies": {{"{package}": "1.0.0"}}}}'}
    result = await run(api, "javascript", files)
    assert result["verdict"] == "compile_error", result
    assert said in result["message"]
    assert result["stdout"] == ""


async def test_a_dependency_naming_a_url_is_refused_before_it_is_fetched(
    api: httpx.AsyncClient,
) -> None:
    """pip would build that sdist on the host (its --only-binary does not hold for URLs)."""
    files = {"main.py": "import lurepkg\n", "requirements.txt": "lurepkg==1.0\n"}
    result = await run(api, "python", files)
    assert result["verdict"] == "compile_error", result
    assert "refused: lurepkg depends on 'evilpkg @ http" in result["message"]
    assert not Path(PWNED).exists()


async def open_notebook(api: httpx.AsyncClient, owner: str) -> str:
    response = await api.post("/api/v1/notebooks", json={}, headers=bearer(owner))
    assert response.status_code == 201, response.text
    return str(response.json()["notebookId"])


async def cell(api: httpx.AsyncClient, owner: str, notebook: str, code: str) -> dict[str, Any]:
    response = await api.post(f"/api/v1/notebooks/{notebook}/cells?wait=true&timeout=170",
                              json={"code": code}, headers=bearer(owner))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def streams(result: dict[str, Any], name: str) -> str:
    return "".join(o["text"] for o in result["outputs"] or []
                   if o["output_type"] == "stream" and o["name"] == name)


IMPORT_NBPKG = """import nbpkg, subprocess, sys
print(nbpkg.VERSION, nbpkg.TOKEN, kept + 1)
try:
    open(nbpkg.__file__, "a")
except OSError as e:
    print(type(e).__name__, e.errno)
print(subprocess.run([sys.executable, "-c", "import nbpkg; print(nbpkg.VERSION)"],
                     capture_output=True, text=True).stdout, end="")
"""
NBPKG_INSTALLED = "Installed nbpkg-1.0-py3-none-any.whl"


async def test_pip_install_in_a_notebook_is_importable_in_the_same_kernel_and_cached(
    api: httpx.AsyncClient, index: Index,
) -> None:
    ann = await open_notebook(api, "ann")
    assert (await cell(api, "ann", ann, "kept = 41"))["verdict"] == "ok"
    installed = await cell(api, "ann", ann, "%pip install nbpkg==1.0")
    assert installed["verdict"] == "ok", installed
    assert NBPKG_INSTALLED in streams(installed, "stdout")
    assert "Installed in this kernel: nbpkg." in streams(installed, "stdout")
    imported = await cell(api, "ann", ann, IMPORT_NBPKG)
    assert imported["verdict"] == "ok", imported
    # The state before the install is kept; the layer is read-only; a child process sees it.
    assert streams(imported, "stdout") == f"1.0 {TOKEN} 42\nPermissionError 13\n1.0\n"
    # Another owner's kernel with the same requirements: from the cache, no install step.
    ben = await open_notebook(api, "ben")
    await cell(api, "ben", ben, "kept = 1")
    asked = len(index.asked)
    cached = await cell(api, "ben", ben, "%pip install nbpkg==1.0")
    assert cached["verdict"] == "ok", cached
    assert NBPKG_INSTALLED not in streams(cached, "stdout")  # no install step
    assert index.asked[asked:] == []  # no fetch either
    imported = await cell(api, "ben", ben, IMPORT_NBPKG)
    assert streams(imported, "stdout") == f"1.0 {TOKEN} 2\nPermissionError 13\n1.0\n"
    # A restart removes them with the rest of the kernel's state, in the same container (the
    # agent removes its layers first: the reset's check would find them and end the container).
    host = "import socket\nprint(socket.gethostname())"
    before = streams(await cell(api, "ben", ben, host), "stdout")
    restarted = await api.post(f"/api/v1/notebooks/{ben}/restart", headers=bearer("ben"))
    assert restarted.json()["state"] == "restarted", restarted.text
    gone = await cell(api, "ben", ben, "import nbpkg")
    assert gone["verdict"] == "runtime_error", gone
    assert gone["outputs"][-1]["ename"] == "ModuleNotFoundError"
    assert streams(await cell(api, "ben", ben, host), "stdout") == before


async def test_pip_install_of_an_unknown_package_in_a_notebook_is_a_compile_error(
    api: httpx.AsyncClient,
) -> None:
    notebook = await open_notebook(api, "cid")
    unknown = await cell(api, "cid", notebook, "%pip install nosuchpkg==1.0")
    assert unknown["verdict"] == "compile_error", unknown
    assert "No matching distribution found for nosuchpkg==1.0" in unknown["message"]
    assert "No matching distribution found for nosuchpkg==1.0" in streams(unknown, "stderr")
    options = await cell(api, "cid", notebook, "%pip install --index-url http://x/ tinypkg")
    assert options["verdict"] == "compile_error", options
    assert "%pip install takes no options ('--index-url')" in options["message"]
    after = await cell(api, "cid", notebook, "print(1 + 1)")
    assert (after["verdict"], streams(after, "stdout")) == ("ok", "2\n"), after

"""Workspaces on a real platform (NATS KV and object store): revisions, compare, restore, zip,
share links, conflicts, limits and refusals, and owners that see only their own."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts import subjects
from contracts.workspaces import content_hash
from edge.nats_connection import NatsConnection
from edge.workspace_store import WorkspaceStore
from edge.workspace_sweep import GRACE_S, ContentSweep
from tests.conftest import Running, bearer
from tests.integration.wsclient import Client

BINARY = bytes(range(256)) * 4
OCTETS = {"Content-Type": "application/octet-stream"}
ZIP = {"Content-Type": "application/zip"}


@pytest.fixture
async def http(platform: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as client:
        yield client


def new_workspace() -> str:
    return f"/api/v1/workspaces/ws-{uuid.uuid4().hex[:12]}"


def zipped(files: dict[str, bytes], link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


async def saved(http: httpx.AsyncClient, url: str, content: bytes, expected: int) -> None:
    response = await http.put(url, headers=OCTETS, content=content)
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == expected


async def test_every_save_is_a_revision_listed_compared_and_restored(
    http: httpx.AsyncClient,
) -> None:
    ws = new_workspace()
    await saved(http, f"{ws}/files/src/main.py", b"print(1)\n", 1)
    await saved(http, f"{ws}/files/data.bin", BINARY, 2)
    await saved(http, f"{ws}/files/src/main.py", b"print(2)\n", 3)
    deleted = await http.delete(f"{ws}/files/data.bin")
    assert deleted.json()["revision"] == 4

    tree = (await http.get(ws)).json()
    assert (tree["revision"], tree["latest"]) == (4, 4)
    assert [f["path"] for f in tree["files"]] == ["src/main.py"]
    old = (await http.get(ws, params={"revision": 2})).json()
    assert [(f["path"], f["size"]) for f in old["files"]] == [("data.bin", 1024),
                                                              ("src/main.py", 9)]
    binary = await http.get(f"{ws}/files/data.bin", params={"revision": 2})
    assert binary.content == BINARY
    assert binary.headers["x-content-type-options"] == "nosniff"

    listed = (await http.get(f"{ws}/revisions")).json()["revisions"]
    assert [(r["revision"], r["note"]) for r in listed] == [
        (4, "delete data.bin"), (3, "put src/main.py"), (2, "put data.bin"),
        (1, "put src/main.py")]
    compared = (await http.get(f"{ws}/compare", params={"from": 1, "to": 4})).json()
    assert compared == {"fromRevision": 1, "toRevision": 4, "added": [], "removed": [],
                        "changed": ["src/main.py"]}
    compared = (await http.get(f"{ws}/compare", params={"from": 3})).json()
    assert (compared["toRevision"], compared["removed"]) == (4, ["data.bin"])

    restored = await http.post(f"{ws}/restore", json={"revision": 2})
    assert restored.json()["revision"] == 5
    assert (await http.get(f"{ws}/files/src/main.py")).content == b"print(1)\n"
    assert (await http.get(f"{ws}/files/data.bin")).content == BINARY
    assert (await http.get(f"{ws}/revisions")).json()["revisions"][0]["note"] == "restore 2"


async def test_saving_the_same_content_makes_no_revision(http: httpx.AsyncClient) -> None:
    ws = new_workspace()
    await saved(http, f"{ws}/files/a.txt", b"same", 1)
    await saved(http, f"{ws}/files/a.txt", b"same", 1)


async def test_a_change_based_on_an_old_revision_of_that_file_is_a_conflict(
    http: httpx.AsyncClient,
) -> None:
    ws = new_workspace()
    await saved(http, f"{ws}/files/a.py", b"first", 1)
    await saved(http, f"{ws}/files/b.py", b"other", 2)
    await saved(http, f"{ws}/files/a.py", b"theirs", 3)
    conflict = await http.put(f"{ws}/files/a.py", params={"base": 2}, headers=OCTETS,
                              content=b"mine")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    assert (await http.get(f"{ws}/files/a.py")).content == b"theirs"
    # Another file, unchanged since revision 2: no conflict.
    fine = await http.put(f"{ws}/files/b.py", params={"base": 2}, headers=OCTETS,
                          content=b"mine")
    assert fine.json()["revision"] == 4


@pytest.mark.parametrize("path", [
    "%2e%2e/escape.py", "a/%2e%2e/%2e%2e/escape.py", "/etc/passwd", "a%5Cb.py", "a%00b.py",
    "a//b.py", "%2e/a.py", "C:/x.py", "a%01b.py",
])
async def test_paths_that_escape_are_refused(http: httpx.AsyncClient, path: str) -> None:
    ws = new_workspace()
    response = await http.put(f"{ws}/files/{path}", headers=OCTETS, content=b"x")
    assert response.status_code == 400, (path, response.text)
    assert response.json()["error"]["code"] == "invalid_request"
    assert (await http.get(ws)).status_code == 404  # nothing was stored


async def test_limits_and_bad_uploads_get_clear_errors(http: httpx.AsyncClient) -> None:
    ws = new_workspace()
    too_big = await http.put(f"{ws}/files/big.bin", headers=OCTETS,
                             content=b"x" * (1_048_576 + 1))
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "too_large")
    refusals = {
        "too many files": (zipped({f"f{i}.txt": b"x" for i in range(101)}), 413),
        "too large in all": (zipped({f"f{i}.bin": b"\0" * 1_000_000 for i in range(5)}), 413),
        "one file over 1 MiB": (zipped({"big.txt": b"\0" * 2_000_000}), 413),
        "an escaping path": (zipped({"../evil.py": b"x"}), 400),
        "a link": (zipped({"a.py": b"x"}, link="passwd"), 400),
        "not a zip": (b"PK not really", 400),
    }
    for what, (body, status) in refusals.items():
        response = await http.put(f"{ws}/zip", headers=ZIP, content=body)
        assert response.status_code == status, (what, response.text)
    assert (await http.get(ws)).status_code == 404


async def test_unknown_workspaces_revisions_and_files_are_404(http: httpx.AsyncClient) -> None:
    ws = new_workspace()
    assert (await http.get(ws)).status_code == 404
    await saved(http, f"{ws}/files/a.py", b"x", 1)
    for response in (await http.get(ws, params={"revision": 9}),
                     await http.get(f"{ws}/compare", params={"from": 1, "to": 9}),
                     await http.post(f"{ws}/restore", json={"revision": 9}),
                     await http.get(f"{ws}/files/nope.py"),
                     await http.delete(f"{ws}/files/nope.py")):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"


async def test_a_zip_upload_is_one_revision_and_downloads_back(http: httpx.AsyncClient) -> None:
    ws = new_workspace()
    files = {"main.py": b"print('zip')\n", "lib/util.py": b"X = 1\n", "img.png": BINARY}
    uploaded = await http.put(f"{ws}/zip", content=zipped(files), headers=ZIP)
    assert uploaded.json()["revision"] == 1
    download = await http.get(f"{ws}/zip")
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == files


async def test_a_share_link_reads_one_revision_and_nothing_else(
    http: httpx.AsyncClient,
) -> None:
    ws = new_workspace()
    await saved(http, f"{ws}/files/main.py", b"v1", 1)
    await saved(http, f"{ws}/files/main.py", b"v2", 2)
    link = (await http.post(f"{ws}/share", json={"revision": 1})).json()
    assert link["url"] == f"/?share={link['token']}"
    await saved(http, f"{ws}/files/main.py", b"v3", 3)
    shared = f"/api/v1/shared/{link['token']}"
    view = (await http.get(shared)).json()
    assert (view["revision"], view["readOnly"]) == (1, True)
    assert (await http.get(f"{shared}/files/main.py")).content == b"v1"
    written = await http.put(f"{shared}/files/main.py", headers=OCTETS, content=b"no")
    assert written.status_code == 405
    payload, _, mac = link["token"].partition(".")
    tampered = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    for token in (tampered, f"{payload}.{mac[::-1]}", "nonsense"):
        refused = await http.get(f"/api/v1/shared/{token}")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    assert (await http.post(f"{ws}/share", json={"revision": 9})).status_code == 404


async def test_owners_see_only_their_own_workspaces(keyed: Running) -> None:
    ws = new_workspace()
    async with httpx.AsyncClient(base_url=keyed.url, timeout=60, trust_env=False) as http:
        anonymous = await http.put(f"{ws}/files/a.py", headers=OCTETS, content=b"x")
        assert anonymous.status_code == 401
        mine = await http.put(f"{ws}/files/a.py", content=b"walt's",
                              headers={**OCTETS, **bearer("walt")})
        assert mine.status_code == 200
        assert (await http.get(ws, headers=bearer("wendy"))).status_code == 404
        assert (await http.get(f"{ws}/files/a.py", headers=bearer("wendy"))).status_code == 404
        theirs = await http.put(f"{ws}/files/a.py", content=b"wendy's",
                               headers={**OCTETS, **bearer("wendy")})
        assert theirs.json()["revision"] == 1  # a workspace of her own, by the same name
        read = await http.get(f"{ws}/files/a.py", headers=bearer("walt"))
        assert read.content == b"walt's"
        listed = (await http.get("/api/v1/workspaces", headers=bearer("walt"))).json()
        assert ws.rsplit("/", 1)[1] in listed["workspaces"]


async def test_a_run_naming_a_workspace_runs_that_revisions_files(
    http: httpx.AsyncClient,
) -> None:
    ws = new_workspace()
    workspace_id = ws.rsplit("/", 1)[1]
    await saved(http, f"{ws}/files/main.py", b"from lib.words import WORD\nprint(WORD)\n", 1)
    await saved(http, f"{ws}/files/lib/words.py", b"WORD = 'first'\n", 2)
    await saved(http, f"{ws}/files/lib/words.py", b"WORD = 'second'\n", 3)
    run = {"language": "python", "mainFile": "main.py"}
    newest = await http.post("/api/v1/executions?wait=true",
                             json={**run, "workspace": {"id": workspace_id}})
    assert (newest.status_code, newest.json()["stdout"]) == (200, "second\n")
    older = await http.post("/api/v1/executions?wait=true",
                            json={**run, "workspace": {"id": workspace_id, "revision": 2}})
    assert (older.json()["verdict"], older.json()["stdout"]) == ("ok", "first\n")

    refusals = [
        ({"id": workspace_id, "revision": 9}, {}, 404),
        ({"id": "no-such-workspace"}, {}, 404),
        ({"id": "../x"}, {}, 400),
        ({"id": workspace_id}, {"files": [{"name": "main.py", "content": "print(1)"}]}, 400),
    ]
    for reference, extra, status in refusals:
        refused = await http.post("/api/v1/executions",
                                  json={**run, **extra, "workspace": reference})
        assert refused.status_code == status, (reference, refused.text)
    await saved(http, f"{ws}/files/blob.bin", b"\xff\xfe\x00", 4)
    binary = await http.post("/api/v1/executions", json={**run, "workspace": {"id": workspace_id}})
    assert binary.status_code == 400
    assert "blob.bin" in binary.json()["error"]["message"]


# --- the socket, judgements and notebooks naming a workspace ---------------------------------


async def workspace_of_two_revisions(http: httpx.AsyncClient, headers: dict[str, str] | None
                                     = None) -> str:
    """A workspace whose ``main.py`` prints ``data.csv``: ``1,2`` at revision 2, ``3,4`` at 3."""
    ws = new_workspace()
    for path, content in [("main.py", b"print(open('data.csv').read(), end='')\n"),
                          ("data.csv", b"1,2\n"), ("data.csv", b"3,4\n")]:
        saved = await http.put(f"{ws}/files/{path}", content=content,
                               headers={**OCTETS, **(headers or {})})
        assert saved.status_code == 200, saved.text
    return ws.rsplit("/", 1)[1]


async def test_the_socket_runs_and_judges_a_workspace_by_name(
    http: httpx.AsyncClient, platform: Running,
) -> None:
    """The IDE's socket names the IDE's workspaces (``key:local``: no API keys here); its
    refusals are the API's, as error events; ``POST /judgements`` names one as a run does."""
    workspace_id = await workspace_of_two_revisions(http)
    client = await Client.connect(platform.ws_url)
    try:
        newest = await client.run({}, "main.py", workspace={"id": workspace_id})
        older = await client.run({}, "main.py", workspace={"id": workspace_id, "revision": 2})
        refusals = [await client.submit({}, "main.py", request_id=f"x{n}", workspace=reference)
                    for n, reference in enumerate([{"id": workspace_id, "revision": 9},
                                                   {"id": "ws-no-such-one"}])]
        await client.send({"type": "judge", "requestId": "j", "language": "python",
                           "mainFile": "main.py", "workspace": {"id": workspace_id},
                           "tests": [{"name": "1", "stdin": "", "expectedOutput": "3,4\n"}]})
        queued = await client.receive()
        assert queued["type"] == "status", queued
        judged = await client.collect(queued["executionId"])
    finally:
        await client.close()
    assert (newest.verdict, newest.stdout) == ("ok", "3,4\n"), newest.events
    assert (older.verdict, older.stdout) == ("ok", "1,2\n"), older.events
    assert [(e["type"], e["code"], e["requestId"]) for e in refusals] == [
        ("error", "not_found", "x0"), ("error", "not_found", "x1")]
    judgement = next(e for e in judged.events if e["type"] == "judgement")["result"]
    assert (judgement["verdict"], judgement["passed"]) == ("accepted", 1), judgement

    body = {"language": "python", "mainFile": "main.py", "workspace": {"id": workspace_id,
                                                                       "revision": 2},
            "tests": [{"name": "1", "stdin": "", "expectedOutput": "1,2\n"}]}
    answer = await http.post("/api/v1/judgements?wait=true", json=body)
    assert (answer.status_code, answer.json()["verdict"]) == (200, "accepted"), answer.text
    unknown = await http.post("/api/v1/judgements", json={**body, "workspace": {"id": "ws-none"}})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


async def test_with_api_keys_the_socket_has_no_workspaces(keyed: Running) -> None:
    """The IDE's page holds no key: its socket names no workspace, not even a key's."""
    async with httpx.AsyncClient(base_url=keyed.url, timeout=60, trust_env=False) as http:
        workspace_id = await workspace_of_two_revisions(http, bearer("walt"))
        client = await Client.connect(keyed.ws_url)
        try:
            refused = await client.submit({}, "main.py", workspace={"id": workspace_id})
        finally:
            await client.close()
        assert (refused["type"], refused["code"]) == ("error", "not_found"), refused
        body = {"language": "python", "mainFile": "main.py", "workspace": {"id": workspace_id},
                "tests": [{"name": "1", "stdin": "", "expectedOutput": "3,4\n"}]}
        theirs = await http.post("/api/v1/judgements", json=body, headers=bearer("wendy"))
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.timeout(300)  # kernels start slowly on a busy host
async def test_a_notebook_naming_a_workspace_starts_its_kernel_with_the_files(
    http: httpx.AsyncClient, platform: Running,
) -> None:
    """The socket's notebook: ``open('data.csv')`` reads the workspace's file, of the revision
    it had when opened; a restart puts the files back. The API's notebook the same."""
    workspace_id = await workspace_of_two_revisions(http)
    client = await Client.connect(platform.ws_url)
    try:
        await client.send({"type": "notebook_open", "notebookId": "wsnb", "requestId": "o",
                           "workspace": {"id": workspace_id}})
        assert (await client.receive())["state"] == "open"
        await http.put(f"/api/v1/workspaces/{workspace_id}/files/data.csv", headers=OCTETS,
                       content=b"saved after the open\n")
        read = await cell(client, "wsnb", "print(open('data.csv').read(), end='')\n"
                                          "open('mine.txt', 'w').write('x')")
        assert read == ("ok", "3,4\n"), read
        await client.send({"type": "notebook_restart", "notebookId": "wsnb", "requestId": "r"})
        assert (await client.receive())["state"] == "restarted"
        again = await cell(client, "wsnb", "import os\n"  # the kernel's own .ipython aside
                                           "print(sorted(set(os.listdir('.')) - {'.ipython'}))")
        assert again == ("ok", "['data.csv', 'main.py']\n"), again
        await client.send({"type": "notebook_open", "notebookId": "bad", "requestId": "b",
                           "workspace": {"id": workspace_id, "revision": 99}})
        refused = await client.receive()
        assert (refused["type"], refused["code"], refused["requestId"]) == (
            "error", "not_found", "b"), refused
    finally:
        await client.close()

    opened = await http.post("/api/v1/notebooks", json={"workspace": {"id": workspace_id,
                                                                      "revision": 2}})
    assert opened.status_code == 201, opened.text
    notebook = opened.json()["notebookId"]
    try:
        answer = await http.post(f"/api/v1/notebooks/{notebook}/cells?wait=true",
                                 json={"code": "print(open('data.csv').read(), end='')"})
        result = answer.json()
        printed = "".join(o["text"] for o in result["outputs"] if o.get("name") == "stdout")
        assert (result["verdict"], printed) == ("ok", "1,2\n"), answer.text
    finally:
        await http.delete(f"/api/v1/notebooks/{notebook}")
    unknown = await http.post("/api/v1/notebooks", json={"workspace": {"id": "ws-none"}})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


async def cell(client: Client, notebook_id: str, code: str) -> tuple[str, str]:
    """Run one cell; its verdict and its stdout."""
    cell_id = uuid.uuid4().hex[:8]
    await client.send({"type": "notebook_execute", "notebookId": notebook_id,
                       "cellId": cell_id, "code": code, "requestId": cell_id})
    queued = await client.receive()
    assert queued["type"] == "status", queued
    events = (await client.collect(queued["executionId"])).events
    stdout = "".join(e["output"]["text"] for e in events if e["type"] == "notebook_output"
                     and e["output"].get("name") == "stdout")
    return events[-1]["verdict"], stdout


async def test_a_deleted_workspace_is_gone_and_the_sweep_deletes_only_unnamed_contents(
    http: httpx.AsyncClient, platform: Running,
) -> None:
    """``DELETE /api/v1/workspaces/{id}`` removes every revision; the content sweep (run by
    the edge then, here also with its clock moved past the grace) deletes a content only
    when no head or revision names it any more, and never one put within the grace."""
    ws_a, ws_b = new_workspace(), new_workspace()
    token = uuid.uuid4().hex
    unique, shared = f"only in A {token}".encode(), f"in A and B {token}".encode()
    await saved(http, f"{ws_a}/files/a.txt", unique, 1)
    await saved(http, f"{ws_a}/files/s.txt", shared, 2)
    await saved(http, f"{ws_b}/files/s.txt", shared, 1)
    assert (await http.delete(ws_a)).status_code == 204
    assert (await http.get(ws_a)).status_code == 404
    assert (await http.get(f"{ws_a}/files/a.txt", params={"revision": 1})).status_code == 404
    assert (await http.delete(ws_a)).status_code == 404
    assert ws_a.rsplit("/", 1)[1] not in (await http.get("/api/v1/workspaces")).json()[
        "workspaces"]

    connection = NatsConnection(platform.nats_url)
    await connection.connect(once=True)
    try:
        store = WorkspaceStore(connection)
        now = time.time()
        assert await ContentSweep(store, clock=lambda: now).run() == 0  # all within the grace
        assert await ContentSweep(store, clock=lambda: now + 2 * GRACE_S).run() >= 1
        left = await store.contents_saved()
        assert content_hash(unique) not in left
        assert content_hash(shared) in left
        assert (await http.get(f"{ws_b}/files/s.txt")).content == shared

        # A save reusing an old content puts it again, and the sweep leaves one put since.
        put_at = left[content_hash(shared)]
        await store.put_content(content_hash(shared), shared, refresh_before=put_at + 1)
        refreshed = (await store.contents_saved())[content_hash(shared)]
        assert refreshed > put_at
        assert not await store.delete_content(content_hash(shared), saved_before=refreshed)
    finally:
        await connection.close()


async def test_contents_are_read_whole_without_a_consumer_each(
    http: httpx.AsyncClient, platform: Running,
) -> None:
    """A content of many chunks (1 MiB: 8 of the object store's 128 KiB) reads back whole, and
    reading contents makes no consumer on the store's stream (one each, kept a while by the
    server, reached its limit when 100-file revisions were read in a row)."""
    ws = new_workspace()
    big = bytes(range(256)) * 4096  # 1 MiB
    await saved(http, f"{ws}/files/big.bin", big, 1)
    connection = NatsConnection(platform.nats_url)
    await connection.connect(once=True)
    try:
        store = WorkspaceStore(connection)
        before = await consumers(connection)  # a sweep's listing leaves one for a while
        for _ in range(3):
            assert await store.content(content_hash(big)) == big
        assert (await http.get(f"{ws}/files/big.bin")).content == big
        assert await consumers(connection) <= before
    finally:
        await connection.close()


async def consumers(connection: NatsConnection) -> int:
    stream = await connection.jetstream.stream_info(subjects.WORKSPACE_FILES_STREAM)
    return stream.state.consumer_count or 0

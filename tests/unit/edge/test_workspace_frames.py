"""Socket frames naming a workspace (docs/workspaces.md#running-a-workspace): decoded once, the
reference typed; the edge replaces it by the revision's files, with the API's rules and errors.
An in-memory workspace store and bus: what reaches the queue is exactly the job of a frame
that sent the files."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from contracts.api import notebook_request_decoder
from contracts.judging import JudgeFrame
from contracts.messages import (
    CellJob,
    ExecuteCode,
    JudgementJob,
    NotebookOpen,
    NotebookRecord,
    ProgramJob,
    SourceFile,
    client_frame_decoder,
    notebook_record_decoder,
)
from contracts.runtimes import Catalog, Runtime
from contracts.workspaces import WorkspaceRef
from edge.nats_connection import NotReady
from edge.sessions import SessionTokens
from edge.workspace_intake import OwnedWorkspaces
from edge.ws import Connection
from tests.unit.edge.test_workspaces import MemoryStore, workspaces

CATALOG = Catalog([Runtime(name="python", display_name="Python", extension=".py",
                           image="python", run=["python3", "{main}"])])
IDE_OWNER = "key:local"
TEST = {"name": "a", "stdin": "", "expectedOutput": "x"}


def decoded(frame: dict[str, Any]) -> Any:
    return client_frame_decoder.decode(json.dumps(frame))


def test_frames_decode_a_workspace_reference_once_typed() -> None:
    run = decoded({"type": "execute_code", "language": "python", "mainFile": "main.py",
                   "workspace": {"id": "demo", "revision": 3}})
    assert isinstance(run, ExecuteCode)
    assert (run.workspace, run.files) == (WorkspaceRef("demo", 3), [])
    judge = decoded({"type": "judge", "language": "python", "mainFile": "main.py",
                     "workspace": {"id": "demo"}, "tests": [TEST]})
    assert isinstance(judge, JudgeFrame) and judge.workspace == WorkspaceRef("demo")
    notebook = decoded({"type": "notebook_open", "workspace": {"id": "demo", "revision": 1}})
    assert isinstance(notebook, NotebookOpen) and notebook.workspace == WorkspaceRef("demo", 1)
    plain = decoded({"type": "execute_code", "language": "python", "mainFile": "main.py",
                     "files": [{"name": "main.py", "content": "print(1)"}]})
    assert plain.workspace is None and plain.files == [SourceFile("main.py", "print(1)")]


FILES = [{"name": "main.py", "content": "print(1)"}]


@pytest.mark.parametrize(("extra", "complaint"), [
    ({"files": FILES, "workspace": {"id": "demo"}}, "not both"),
    ({}, "at least one file"),
    ({"files": []}, "at least one file"),
    ({"workspace": {"id": "../x"}}, "matching regex"),
    ({"workspace": {"id": "demo", "revision": 0}}, ">= 1"),
    ({"workspace": {"id": "demo", "branch": "x"}}, "unknown field"),
    ({"workspace": "demo"}, "Expected `object | null`"),
])
@pytest.mark.parametrize("kind", ["execute_code", "judge"])
def test_bad_references_are_refused_when_decoded(kind: str, extra: dict[str, Any],
                                                 complaint: str) -> None:
    frame = {"type": kind, "language": "python", "mainFile": "main.py", **extra}
    if kind == "judge":
        frame["tests"] = [TEST]
    with pytest.raises(msgspec.ValidationError, match=complaint):
        decoded(frame)


class Watch:
    async def close(self) -> None:
        pass


class FakeBus:
    """What ``Connection.submit`` touches: the jobs it queues, a watch per execution."""

    def __init__(self) -> None:
        self.jobs = self
        self.events = self
        self.submitted: list[Any] = []
        self.language_servers: Any = None  # the socket builds its part; unused here

    async def submit(self, job: Any) -> None:
        self.submitted.append(job)

    async def watch(self, execution_id: str, on_event: Any) -> Watch:
        return Watch()


async def ide_workspace(store: MemoryStore, owner: str = IDE_OWNER) -> None:
    saved = workspaces(store)
    await saved.put(owner, "demo", "main.py", b"print(open('data.csv').read())\n")
    await saved.put(owner, "demo", "data.csv", b"a,b\n1,2\n")
    await saved.put(owner, "demo", "data.csv", b"a,b\n3,4\n")


def connection(store: MemoryStore, owner: str | None = IDE_OWNER) -> tuple[Connection, FakeBus]:
    bus = FakeBus()
    socket_workspaces = OwnedWorkspaces(workspaces(store), owner)
    conn = Connection(None, bus, CATALOG, "0" * 32, "token",  # type: ignore[arg-type]
                      SessionTokens("unit-test-secret"), workspaces=socket_workspaces)
    return conn, bus


def sent(conn: Connection) -> list[dict[str, Any]]:
    events = []
    while not conn.outbox.empty():
        text = conn.outbox.get_nowait()
        assert text is not None
        events.append(json.loads(text))
    return events


RUN = {"type": "execute_code", "requestId": "r1", "language": "python", "mainFile": "main.py"}


async def test_a_run_naming_a_workspace_queues_that_revisions_files() -> None:
    store = MemoryStore()
    await ide_workspace(store)
    conn, bus = connection(store)
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "demo"}}))
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "demo", "revision": 2}}))
    assert [e["type"] for e in sent(conn)] == ["status", "status"]
    newest, second = bus.submitted
    assert isinstance(newest, ProgramJob) and isinstance(second, ProgramJob)
    assert {f.name: f.content for f in newest.files}["data.csv"] == "a,b\n3,4\n"
    assert {f.name: f.content for f in second.files}["data.csv"] == "a,b\n1,2\n"
    assert (newest.main_file, newest.reuse_key, newest.owner) == \
        ("main.py", "main.py", "session:" + "0" * 32)


@pytest.mark.parametrize(("reference", "code"), [
    ({"id": "demo", "revision": 9}, "not_found"),
    ({"id": "elsewhere"}, "not_found"),
])
async def test_unknown_workspaces_and_revisions_are_not_found(reference: dict[str, Any],
                                                              code: str) -> None:
    store = MemoryStore()
    await ide_workspace(store)
    conn, bus = connection(store)
    await conn.handle_frame(json.dumps({**RUN, "workspace": reference}))
    [error] = sent(conn)
    assert (error["type"], error["code"], error["requestId"]) == ("error", code, "r1")
    assert bus.submitted == []


async def test_a_socket_without_workspaces_finds_none() -> None:
    store = MemoryStore()
    await ide_workspace(store)
    conn, bus = connection(store, owner=None)  # an installation with API keys
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "demo"}}))
    [error] = sent(conn)
    assert error["code"] == "not_found" and "API keys" in error["message"]
    assert bus.submitted == []


async def test_a_binary_file_or_a_name_a_run_refuses_is_invalid() -> None:
    store = MemoryStore()
    await ide_workspace(store)
    await workspaces(store).put(IDE_OWNER, "demo", "blob.bin", b"\xff\xfe")
    await workspaces(store).put(IDE_OWNER, "other", "main.py", b"print(1)")
    await workspaces(store).put(IDE_OWNER, "other", "\u202eevil.py", b"x")
    conn, bus = connection(store)
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "demo"}}))
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "other"}}))
    binary, bidi = sent(conn)
    assert (binary["code"], bidi["code"]) == ("invalid_request", "invalid_request")
    assert "blob.bin" in binary["message"] and "cannot be run" in bidi["message"]
    assert bus.submitted == []


async def test_a_judgement_naming_a_workspace_judges_its_files() -> None:
    store = MemoryStore()
    await ide_workspace(store)
    conn, bus = connection(store)
    await conn.handle_frame(json.dumps({
        "type": "judge", "requestId": "j1", "language": "python", "mainFile": "main.py",
        "workspace": {"id": "demo", "revision": 2}, "tests": [TEST]}))
    [job] = bus.submitted
    assert isinstance(job, JudgementJob)
    assert {f.name: f.content for f in job.files}["data.csv"] == "a,b\n1,2\n"
    await conn.handle_frame(json.dumps({
        "type": "judge", "requestId": "j2", "language": "python", "mainFile": "main.py",
        "workspace": {"id": "nope"}, "tests": [TEST]}))
    assert [(e["type"], e.get("code")) for e in sent(conn)] == [
        ("status", None), ("error", "not_found")]


async def test_a_notebook_naming_a_workspace_sends_its_pinned_files_with_each_cell() -> None:
    store = MemoryStore()
    await ide_workspace(store)
    conn, bus = connection(store)
    await conn.handle_frame(json.dumps({"type": "notebook_open", "notebookId": "nb",
                                        "workspace": {"id": "demo"}}))
    await workspaces(store).put(IDE_OWNER, "demo", "data.csv", b"changed later\n")
    for cell in ("c1", "c2"):
        await conn.handle_frame(json.dumps({"type": "notebook_execute", "notebookId": "nb",
                                            "cellId": cell, "code": "1"}))
    await conn.handle_frame(json.dumps({"type": "notebook_open", "notebookId": "plain"}))
    await conn.handle_frame(json.dumps({"type": "notebook_execute", "notebookId": "plain",
                                        "cellId": "c", "code": "1"}))
    first, second, plain = bus.submitted
    assert isinstance(first, CellJob) and isinstance(second, CellJob)
    assert {f.name: f.content for f in first.files}["data.csv"] == "a,b\n3,4\n"
    assert second.files == first.files, "revision 3, as when the notebook was opened"
    assert isinstance(plain, CellJob) and list(plain.files) == []
    assert b'"files"' not in msgspec.json.encode(plain), "no files: nothing on the wire"


async def test_a_notebook_naming_an_unknown_workspace_is_not_opened() -> None:
    conn, _ = connection(MemoryStore())
    await conn.handle_frame(json.dumps({"type": "notebook_open", "notebookId": "nb",
                                        "requestId": "o1", "workspace": {"id": "nope"}}))
    [error] = sent(conn)
    assert (error["code"], error["requestId"]) == ("not_found", "o1")
    assert "nb" not in conn.notebooks


def test_an_api_notebook_names_a_workspace_and_its_record_pins_it() -> None:
    spec = notebook_request_decoder.decode(b'{"notebookId":"nb","workspace":{"id":"demo"}}')
    assert spec.workspace == WorkspaceRef("demo")
    record = NotebookRecord("nb", "key:k", "python", 1.0, WorkspaceRef("demo", 3))
    assert notebook_record_decoder.decode(msgspec.json.encode(record)) == record
    plain = msgspec.json.encode(NotebookRecord("nb", "key:k", "python", 1.0))
    assert b"workspace" not in plain, "a record naming none is as it was"


async def test_a_store_that_does_not_answer_is_an_error_event_not_a_crash() -> None:
    class Silent(MemoryStore):
        async def head(self, digest: str, workspace_id: str) -> Any:
            raise NotReady("the workspace store did not answer; try again")

    conn, bus = connection(Silent())
    await conn.handle_frame(json.dumps({**RUN, "workspace": {"id": "demo"}}))
    [error] = sent(conn)
    assert (error["code"], error["requestId"]) == ("not_ready", "r1")
    assert bus.submitted == []

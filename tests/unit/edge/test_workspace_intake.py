"""A request naming a workspace gets that revision's files; anything else passes unchanged."""

from __future__ import annotations

import msgspec
import pytest

from contracts.workspaces import Revision
from edge import workspace_intake
from edge.workspace_intake import with_workspace_files
from edge.workspaces import WorkspaceError


class OneWorkspace:
    """Stands in for ``Workspaces``: one workspace ``w`` of owner ``me``."""

    async def text_files(self, owner: str, workspace_id: str, number: int | None
                         ) -> list[tuple[str, str]]:
        if (owner, workspace_id) != ("me", "w"):
            raise WorkspaceError("no such workspace")
        return [("main.py", f"print({number})")]

    async def revision(self, owner: str, workspace_id: str, number: int | None) -> Revision:
        raise NotImplementedError


async def resolved(body: bytes) -> bytes:
    return await with_workspace_files(body, "me", OneWorkspace())  # type: ignore[arg-type]


async def test_a_named_workspace_becomes_its_files() -> None:
    body = b'{"language":"python","mainFile":"main.py","workspace":{"id":"w","revision":3}}'
    assert msgspec.json.decode(await resolved(body)) == {
        "language": "python", "mainFile": "main.py",
        "files": [{"name": "main.py", "content": "print(3)"}]}


@pytest.mark.parametrize("body", [b"[]", b"not json", b'{"files":[]}', b'{"workspace":null}'])
async def test_other_bodies_pass_unchanged(body: bytes) -> None:
    assert await resolved(body) == body


@pytest.mark.parametrize("body", [
    b'{"workspace":5}', b'{"workspace":{"id":"../x"}}', b'{"workspace":{"id":"w","x":1}}',
    b'{"workspace":{"id":"w"},"files":[{"name":"a","content":""}]}',
    b'{"workspace":{"id":"other"}}',
])
async def test_bad_references_are_refused(body: bytes) -> None:
    with pytest.raises(WorkspaceError):
        await resolved(body)


async def test_a_body_naming_no_workspace_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing:
        def decode(self, body: bytes) -> None:
            raise AssertionError("decoded a body that names no workspace")

    monkeypatch.setattr(workspace_intake, "names_decoder", Refusing())
    body = b'{"language":"python","files":[{"name":"main.py","content":"print(1)"}]}'
    assert await resolved(body) == body


async def test_an_empty_files_list_beside_a_workspace_sends_none() -> None:
    body = b'{"mainFile":"main.py","files":[],"workspace":{"id":"w"}}'
    assert msgspec.json.decode(await resolved(body))["files"] == [
        {"name": "main.py", "content": "print(None)"}]

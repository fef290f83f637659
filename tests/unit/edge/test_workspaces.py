"""Workspaces over an in-memory store: which refusal gets which status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import pytest

from contracts.workspaces import FileRef, Head, Revision, workspace_id_problem
from edge.workspaces import TooLarge, WorkspaceError, Workspaces, check_tree


class MemoryStore:
    """Stands in for ``WorkspaceStore``; counts head reads and refuses ids a key cannot hold."""

    def __init__(self) -> None:
        self.heads: dict[str, bytes] = {}
        self.revisions: dict[tuple[str, int], Revision] = {}
        self.contents: dict[str, bytes] = {}
        self.head_reads = 0

    def key(self, workspace_id: str) -> str:
        assert workspace_id_problem(workspace_id) is None, f"unchecked id {workspace_id!r}"
        return workspace_id

    async def head(self, digest: str, workspace_id: str) -> Head | None:
        self.head_reads += 1
        value = self.heads.get(self.key(workspace_id))
        return msgspec.json.decode(value, type=Head) if value else None

    async def change_head(self, digest: str, workspace_id: str,
                          change: Callable[[Head | None], Head | None]) -> None:
        head = await self.head(digest, workspace_id)
        if (new := change(head)) is not None:
            self.heads[workspace_id] = msgspec.json.encode(new)

    async def put_revision(self, digest: str, workspace_id: str, revision: Revision) -> None:
        self.revisions[self.key(workspace_id), revision.summary.revision] = revision

    async def revision(self, digest: str, workspace_id: str, number: int) -> Revision | None:
        return self.revisions.get((self.key(workspace_id), number))

    async def put_content(self, sha256: str, data: bytes) -> None:
        self.contents[sha256] = data

    async def content(self, sha256: str) -> bytes:
        return self.contents[sha256]


def workspaces(store: MemoryStore) -> Workspaces:
    return Workspaces(store, clock=lambda: 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("workspace_id", ["a.*", "ws.1", "a>"])
async def test_a_bad_id_is_refused_before_the_store_on_every_path(workspace_id: str) -> None:
    store = MemoryStore()
    spaces = workspaces(store)
    await spaces.put("me", "ok", "a.py", b"x")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: spaces.delete("me", workspace_id, "a.py"),
        lambda: spaces.delete("me", workspace_id, "a.py", base=1),
        lambda: spaces.put("me", workspace_id, "a.py", b"x"),
        lambda: spaces.replace("me", workspace_id, {"a.py": b"x"}, "upload"),
        lambda: spaces.restore("me", workspace_id, 1),
    ]
    for call in calls:
        with pytest.raises(WorkspaceError) as refused:
            await call()
        assert refused.value.status == 400


def test_a_file_inside_a_file_named_total_is_a_bad_request_not_too_large() -> None:
    with pytest.raises(WorkspaceError) as refused:
        check_tree({"total": FileRef("0", 1), "total/x": FileRef("1", 1)})
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")


def test_too_many_files_is_too_large() -> None:
    with pytest.raises(TooLarge):
        check_tree({f"f{i}": FileRef(str(i), 1) for i in range(101)})

"""Workspaces over an in-memory store: which refusal gets which status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import pytest

from contracts.workspaces import FileRef, Head, Revision, workspace_id_problem
from edge.workspaces import Conflict, NotFound, TooLarge, WorkspaceError, Workspaces, check_tree


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
                          change: Callable[[Head | None], Head | None],
                          before_write: Callable[[], Awaitable[None]] | None = None) -> None:
        head = await self.head(digest, workspace_id)
        if (new := change(head)) is not None:
            if before_write is not None:
                await before_write()
            self.heads[workspace_id] = msgspec.json.encode(new)

    async def put_revision(self, digest: str, workspace_id: str, revision: Revision) -> None:
        self.revisions[self.key(workspace_id), revision.summary.revision] = revision

    async def revision(self, digest: str, workspace_id: str, number: int) -> Revision | None:
        return self.revisions.get((self.key(workspace_id), number))

    async def put_content(self, sha256: str, data: bytes, refresh_before: float = 0.0) -> None:
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


async def test_a_save_reads_the_head_once_and_its_base_in_the_same_pass() -> None:
    store = MemoryStore()
    spaces = workspaces(store)
    await spaces.put("me", "w", "a.py", b"1")
    assert store.head_reads == 1
    await spaces.put("me", "w", "b.py", b"2")
    await spaces.put("me", "w", "a.py", b"3")
    store.head_reads = 0
    made = await spaces.put("me", "w", "b.py", b"4", base=2)  # b.py unchanged since 2
    assert (made.summary.revision, store.head_reads) == (4, 1)
    store.head_reads = 0
    same = await spaces.put("me", "w", "b.py", b"4", base=4)  # nothing changes
    assert (same.summary.revision, store.head_reads) == (4, 1)
    with pytest.raises(Conflict):
        await spaces.delete("me", "w", "a.py", base=2)  # a.py changed in 3
    with pytest.raises(NotFound):
        await spaces.put("me", "w", "a.py", b"5", base=9)


async def test_refused_saves_store_no_content() -> None:
    store = MemoryStore()
    spaces = workspaces(store)
    await spaces.put("me", "w", "a.py", b"first")
    await spaces.put("me", "w", "a.py", b"theirs")
    stored = dict(store.contents)
    with pytest.raises(Conflict):
        await spaces.put("me", "w", "a.py", b"mine", base=1)
    with pytest.raises(WorkspaceError):
        await spaces.put("me", "w", "a.py/inside", b"a file under a file")
    with pytest.raises(TooLarge):
        await spaces.replace("me", "w", {f"f{i}": bytes([i]) for i in range(101)}, "upload")
    with pytest.raises(NotFound):
        await spaces.delete("me", "nothing", "a.py")
    assert store.contents == stored


async def test_a_revision_whose_put_was_lost_is_put_by_the_next_change() -> None:
    store = MemoryStore()
    spaces = workspaces(store)
    await spaces.put("me", "w", "a.py", b"1")
    await spaces.put("me", "w", "a.py", b"2")
    del store.revisions["w", 2]  # the edge that made revision 2 stopped before putting it
    await spaces.put("me", "w", "a.py", b"3")
    assert store.revisions["w", 2].tree["a.py"].size == 1
    restored = await spaces.restore("me", "w", 2)
    assert (await spaces.read("me", "w", "a.py", restored.summary.revision)) == b"2"

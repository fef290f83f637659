"""Workspaces (docs/workspaces.md): an owner's versioned files. Every change makes a revision
(the whole new tree) in one compare-and-set of the workspace's head; the edge's HTTP routes
(``edge.workspace_api``) and its intake of runs naming a workspace both come here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from contracts import subjects
from contracts.workspaces import (
    REVISIONS_LISTED,
    WORKSPACE_MAX_FILE_BYTES,
    FileRef,
    Head,
    Revision,
    RevisionSummary,
    Tree,
    content_hash,
    path_problem,
    tree_limit_problem,
    tree_shape_problem,
    workspace_id_problem,
)
from edge.workspace_store import WorkspaceStore


class WorkspaceError(Exception):
    """The workspace request cannot be done; ``status`` and ``code`` for the answer."""

    status = 400
    code = "invalid_request"


class NotFound(WorkspaceError):
    """No such workspace, revision or file."""

    status = 404
    code = "not_found"


class TooLarge(WorkspaceError):
    status = 413
    code = "too_large"


class Conflict(WorkspaceError):
    """The file changed since the revision the change was based on."""

    status = 409
    code = "conflict"


def check_id(workspace_id: str) -> None:
    if problem := workspace_id_problem(workspace_id):
        raise WorkspaceError(problem)


def check_path(path: str) -> None:
    if problem := path_problem(path):
        raise WorkspaceError(f"the path {path!r} {problem}")


def check_tree(tree: Tree) -> None:
    if problem := tree_limit_problem(tree):
        raise TooLarge(problem)
    if problem := tree_shape_problem(tree):
        raise WorkspaceError(problem)


def next_head(head: Head | None, tree: Tree, note: str, now: float) -> Head:
    """The head after a change to ``tree``: the next revision, listed first."""
    number = head.current.summary.revision + 1 if head else 1
    summary = RevisionSummary(number, now, note, len(tree), sum(r.size for r in tree.values()))
    history = [summary, *(head.history if head else [])][:REVISIONS_LISTED]
    return Head(Revision(summary, tree), history)


class Workspaces:
    """One owner's workspaces are theirs alone: every call names the owner, whose digest
    prefixes every key."""

    def __init__(self, store: WorkspaceStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def head(self, owner: str, workspace_id: str) -> Head:
        return await self._head(subjects.owner_digest(owner), workspace_id)

    async def _head(self, digest: str, workspace_id: str) -> Head:
        check_id(workspace_id)
        head = await self.store.head(digest, workspace_id)
        if head is None:
            raise NotFound(f"no workspace {workspace_id!r} of this owner")
        return head

    async def revision(self, owner: str, workspace_id: str, number: int | None) -> Revision:
        """Revision ``number`` (the newest when None)."""
        return await self.revision_of(subjects.owner_digest(owner), workspace_id, number)

    async def revision_of(self, digest: str, workspace_id: str, number: int | None
                          ) -> Revision:
        """Revision ``number`` of the owner with ``digest`` (a share link names no owner)."""
        head = await self._head(digest, workspace_id)
        if number is None or number == head.current.summary.revision:
            return head.current
        found = None
        if 1 <= number < head.current.summary.revision:
            found = await self.store.revision(digest, workspace_id, number)
        if found is None:
            raise NotFound(f"workspace {workspace_id!r} has no revision {number}")
        return found

    async def read(self, owner: str, workspace_id: str, path: str,
                   number: int | None = None) -> bytes:
        return await self.file_of(await self.revision(owner, workspace_id, number), path)

    async def file_of(self, revision: Revision, path: str) -> bytes:
        check_path(path)
        if path not in revision.tree:
            raise NotFound(f"no file {path!r} in revision {revision.summary.revision}")
        return await self.store.content(revision.tree[path].sha256)

    async def contents(self, revision: Revision) -> dict[str, bytes]:
        """Every file of a revision, read at once (one object-store read each)."""
        paths = sorted(revision.tree)
        data = await asyncio.gather(*(self.store.content(revision.tree[p].sha256)
                                      for p in paths))
        return dict(zip(paths, data, strict=True))

    async def put(self, owner: str, workspace_id: str, path: str, data: bytes,
                  base: int | None = None) -> Revision:
        """Save one file (a new revision). With ``base``, a file changed since revision
        ``base`` is a Conflict, not overwritten."""
        check_path(path)
        if len(data) > WORKSPACE_MAX_FILE_BYTES:
            raise TooLarge(f"{path!r} has {len(data)} bytes; the limit is "
                           f"{WORKSPACE_MAX_FILE_BYTES}")
        ref = FileRef(content_hash(data), len(data))
        await self.store.put_content(ref.sha256, data)
        based = await self._based_on(owner, workspace_id, base)

        def change(tree: Tree) -> Tree | None:
            if based is not None and tree.get(path) != based.tree.get(path):
                raise Conflict(f"{path!r} changed since revision {base}")
            return None if tree.get(path) == ref else {**tree, path: ref}

        return await self._change(owner, workspace_id, change, f"put {path}")

    async def delete(self, owner: str, workspace_id: str, path: str,
                     base: int | None = None) -> Revision:
        check_path(path)
        based = await self._based_on(owner, workspace_id, base)

        def change(tree: Tree) -> Tree:
            if path not in tree:
                raise NotFound(f"no file {path!r} in workspace {workspace_id!r}")
            if based is not None and tree.get(path) != based.tree.get(path):
                raise Conflict(f"{path!r} changed since revision {base}")
            return {p: r for p, r in tree.items() if p != path}

        return await self._change(owner, workspace_id, change, f"delete {path}",
                                  must_exist=True)

    async def replace(self, owner: str, workspace_id: str, files: dict[str, bytes],
                      note: str) -> Revision:
        """The whole tree replaced by ``files`` (a zip upload), as one revision."""
        for path, data in files.items():
            check_path(path)
            if len(data) > WORKSPACE_MAX_FILE_BYTES:
                raise TooLarge(f"{path!r} has {len(data)} bytes; the limit is "
                               f"{WORKSPACE_MAX_FILE_BYTES}")
        tree = {path: FileRef(content_hash(data), len(data)) for path, data in files.items()}
        check_tree(tree)
        for path, data in files.items():
            await self.store.put_content(tree[path].sha256, data)
        return await self._change(owner, workspace_id, lambda _: tree, note)

    async def restore(self, owner: str, workspace_id: str, number: int) -> Revision:
        """A new revision whose tree is revision ``number``'s."""
        old = await self.revision(owner, workspace_id, number)
        return await self._change(owner, workspace_id, lambda _: old.tree,
                                  f"restore {number}", must_exist=True)

    async def _based_on(self, owner: str, workspace_id: str, base: int | None
                        ) -> Revision | None:
        if base is None:
            return None
        try:
            return await self.revision(owner, workspace_id, base)
        except NotFound:
            raise NotFound(f"workspace {workspace_id!r} has no revision {base}") from None

    async def _change(self, owner: str, workspace_id: str,
                      change: Callable[[Tree], Tree | None], note: str,
                      must_exist: bool = False) -> Revision:
        """Apply ``change`` to the newest tree as the next revision (compare-and-set; a change
        that returns None, or the same tree, makes none). The head read is put as its revision
        too (idempotent), so a revision whose own put was lost is written by the next change."""
        check_id(workspace_id)
        digest = subjects.owner_digest(owner)
        made: list[Head] = []

        def apply(head: Head | None) -> Head | None:
            made.clear()
            if head is None and must_exist:
                raise NotFound(f"no workspace {workspace_id!r} of this owner")
            tree = change(head.current.tree if head else {})
            if tree is None or (head is not None and tree == head.current.tree):
                return None
            check_tree(tree)
            made.append(next_head(head, tree, note, self.clock()))
            return made[0]

        previous = await self.store.head(digest, workspace_id)
        if previous is not None:
            await self.store.put_revision(digest, workspace_id, previous.current)
        await self.store.change_head(digest, workspace_id, apply)
        if not made:  # nothing changed: the newest revision stands
            return (await self.head(owner, workspace_id)).current
        await self.store.put_revision(digest, workspace_id, made[0].current)
        return made[0].current

    async def ids(self, owner: str) -> list[str]:
        return await self.store.workspace_ids(subjects.owner_digest(owner))

    async def text_files(self, owner: str, workspace_id: str, number: int | None
                         ) -> list[tuple[str, str]]:
        """A revision's files as text, for a run naming the workspace; a file that is not
        UTF-8 is a WorkspaceError (a run's files are text)."""
        revision = await self.revision(owner, workspace_id, number)
        files = []
        for path, data in (await self.contents(revision)).items():
            try:
                files.append((path, data.decode()))
            except UnicodeDecodeError:
                raise WorkspaceError(f"{path!r} is not UTF-8 text; a run's files are text") \
                    from None
        return files

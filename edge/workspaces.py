"""Workspaces (docs/workspaces.md): an owner's versioned files. Every change makes a revision
(the whole new tree) in one compare-and-set of the workspace's head; the edge's HTTP routes
(``edge.workspace_api``) and its intake of runs naming a workspace both come here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

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
from edge.workspace_sweep import REFRESH_S


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


class Unavailable(WorkspaceError):
    """The workspace store did not answer (or lacks a content); try again."""

    status = 503
    code = "not_ready"


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


def based_on(head: Head | None, base: int, older: Revision | None, workspace_id: str
             ) -> Revision:
    """Revision ``base`` as of ``head`` (``older``: that revision as stored, if it is)."""
    newest = head.current.summary.revision if head else 0
    if head is not None and base == newest:
        return head.current
    if older is not None and base < newest:
        return older
    raise NotFound(f"workspace {workspace_id!r} has no revision {base}")


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

        def change(tree: Tree, based: Revision | None) -> Tree | None:
            if based is not None and tree.get(path) != based.tree.get(path):
                raise Conflict(f"{path!r} changed since revision {base}")
            return None if tree.get(path) == ref else {**tree, path: ref}

        return await self._change(owner, workspace_id, change, f"put {path}", base=base,
                                  contents={ref.sha256: data})

    async def delete(self, owner: str, workspace_id: str, path: str,
                     base: int | None = None) -> Revision:
        check_path(path)

        def change(tree: Tree, based: Revision | None) -> Tree:
            if path not in tree:
                raise NotFound(f"no file {path!r} in workspace {workspace_id!r}")
            if based is not None and tree.get(path) != based.tree.get(path):
                raise Conflict(f"{path!r} changed since revision {base}")
            return {p: r for p, r in tree.items() if p != path}

        return await self._change(owner, workspace_id, change, f"delete {path}", base=base,
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
        contents = {tree[path].sha256: data for path, data in files.items()}
        return await self._change(owner, workspace_id, lambda _, __: tree, note,
                                  contents=contents)

    async def restore(self, owner: str, workspace_id: str, number: int) -> Revision:
        """A new revision whose tree is revision ``number``'s."""

        def change(_: Tree, based: Revision | None) -> Tree | None:
            return based.tree if based else None  # based is revision ``number``

        return await self._change(owner, workspace_id, change, f"restore {number}",
                                  base=number, must_exist=True)

    async def _change(self, owner: str, workspace_id: str,
                      change: Callable[[Tree, Revision | None], Tree | None], note: str, *,
                      base: int | None = None, must_exist: bool = False,
                      contents: Mapping[str, bytes] | None = None) -> Revision:
        """Apply ``change`` to the newest tree (and revision ``base``, when given) as the next
        revision, in one compare-and-set of the head; a change that returns None, or the same
        tree, makes none. Refusals come before anything is stored; ``contents`` (by hash) are
        stored just before the head that names them. The replaced head's revision is put again
        with the new one (idempotent), so a revision whose own put was lost is written by the
        next change."""
        check_id(workspace_id)
        digest = subjects.owner_digest(owner)
        # A revision never changes once made: read before the head, it is the one it lists.
        older = None if base is None else await self.store.revision(digest, workspace_id, base)
        seen: list[Head | None] = [None]
        made: list[Head] = []

        def apply(head: Head | None) -> Head | None:
            seen[0] = head
            made.clear()
            if head is None and must_exist:
                raise NotFound(f"no workspace {workspace_id!r} of this owner")
            based = None if base is None else based_on(head, base, older, workspace_id)
            tree = change(head.current.tree if head else {}, based)
            if tree is None or (head is not None and tree == head.current.tree):
                return None
            check_tree(tree)
            made.append(next_head(head, tree, note, self.clock()))
            return made[0]

        async def store_contents() -> None:
            refresh_before = self.clock() - REFRESH_S  # the content sweep's rule
            await asyncio.gather(*(self.store.put_content(sha256, data, refresh_before)
                                   for sha256, data in (contents or {}).items()))

        await self.store.change_head(digest, workspace_id, apply, store_contents)
        replaced = seen[0]
        if not made:  # nothing changed: the newest revision stands
            assert replaced is not None  # with no head, every change makes a tree
            return replaced.current
        revisions = [made[0].current, *([replaced.current] if replaced else [])]
        named = {ref.sha256 for ref in made[0].current.tree.values()}
        await asyncio.gather(
            *(self.store.put_revision(digest, workspace_id, revision) for revision in revisions),
            # Still there? A content deleted by a sweep meanwhile is put back (workspace_sweep).
            *(self.store.put_content(sha256, data) for sha256, data in (contents or {}).items()
              if sha256 in named))
        return made[0].current

    async def delete_workspace(self, owner: str, workspace_id: str) -> None:
        """Remove a workspace: its head and every revision (its contents are the content
        sweep's to delete, once nothing else names them)."""
        await self.head(owner, workspace_id)  # NotFound
        await self.store.delete_workspace(subjects.owner_digest(owner), workspace_id)

    async def ids(self, owner: str) -> list[str]:
        return await self.store.workspace_ids(subjects.owner_digest(owner))

    async def text_files(self, owner: str, workspace_id: str, number: int | None
                         ) -> list[tuple[str, str]]:
        """A revision's files as text, for a run naming the workspace (``texts``)."""
        return await self.texts(await self.revision(owner, workspace_id, number))

    async def texts(self, revision: Revision) -> list[tuple[str, str]]:
        """Every file of a revision as text (path, content); a file that is not UTF-8 is a
        WorkspaceError (a run's files are text)."""
        files = []
        for path, data in (await self.contents(revision)).items():
            try:
                files.append((path, data.decode()))
            except UnicodeDecodeError:
                raise WorkspaceError(f"{path!r} is not UTF-8 text; a run's files are text") \
                    from None
        return files

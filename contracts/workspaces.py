"""Workspaces (docs/workspaces.md): a project's files kept on the server per owner, versioned.

Every save makes a revision: the whole tree (path → content hash) at that moment. Contents live
once per hash in an object store; trees and the revision list in a KV bucket (``subjects``).
These are the stored and the HTTP API's shapes, and the rules for paths and sizes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sized
from typing import Annotated

from msgspec import Meta, Struct

from contracts.program import MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES

WORKSPACE_MAX_FILE_BYTES = MAX_FILE_BYTES
WORKSPACE_MAX_FILES = MAX_FILES
WORKSPACE_MAX_TOTAL_BYTES = MAX_TOTAL_BYTES
"""The same as a run's, so that any workspace can be run."""
WORKSPACE_MAX_PATH = 255
REVISIONS_LISTED = 100
"""The newest revisions a workspace lists (older ones stay readable by number)."""
SHARE_MAX_AGE_S = 30 * 86_400
SHARE_DEFAULT_AGE_S = 7 * 86_400

WorkspaceId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
_WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RevisionNumber = Annotated[int, Meta(ge=1)]


class WorkspaceRef(Struct, frozen=True, forbid_unknown_fields=True):
    """A workspace named instead of files (a run, a judgement, a notebook): ``{"id": …,
    "revision": n}``, the newest revision when ``revision`` is unsaid. Always the caller's
    own workspace (docs/workspaces.md#running-a-workspace)."""

    id: WorkspaceId
    revision: RevisionNumber | None = None


class FileRef(Struct, frozen=True):
    """One file of a tree: its content's SHA-256 (hex, its name in the object store) and size."""

    sha256: str
    size: int


Tree = dict[str, FileRef]


class RevisionSummary(Struct, frozen=True, rename="camel"):
    revision: int
    at: float
    """When it was saved (seconds since the epoch)."""
    note: str
    """What made it: ``put <path>``, ``delete <path>``, ``upload``, ``restore <n>``."""
    files: int
    size: int


class Revision(Struct, frozen=True, rename="camel"):
    """One revision as stored: its summary and its tree."""

    summary: RevisionSummary
    tree: Tree


class Head(Struct, frozen=True, rename="camel"):
    """A workspace's newest revision and the summaries of the newest ``REVISIONS_LISTED``
    (newest first). Changed only with compare-and-set."""

    current: Revision
    history: list[RevisionSummary]


# --- HTTP API --------------------------------------------------------------------------------


class FileInfo(Struct, frozen=True):
    path: str
    size: int
    sha256: str


class WorkspaceView(Struct, frozen=True, rename="camel"):
    """``GET /api/v1/workspaces/{id}`` (``?revision=``) and a share link's view."""

    workspace_id: str
    revision: int
    latest: int
    files: list[FileInfo]
    read_only: bool = False


class SavedRevision(Struct, frozen=True, rename="camel"):
    """A change's answer: the revision it made (``revision``) and the file's new hash."""

    workspace_id: str
    revision: int
    sha256: str | None = None


class RevisionList(Struct, frozen=True, rename="camel"):
    workspace_id: str
    revisions: list[RevisionSummary]


class Comparison(Struct, frozen=True, rename="camel"):
    """``GET /api/v1/workspaces/{id}/compare?from=&to=``: which files differ."""

    from_revision: int
    to_revision: int
    added: list[str]
    removed: list[str]
    changed: list[str]


class RestoreRequest(Struct, frozen=True, forbid_unknown_fields=True):
    revision: RevisionNumber


class ShareRequest(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """``POST /api/v1/workspaces/{id}/share``: a read-only link to one revision (the latest
    when unsaid), valid ``expiresInS`` seconds."""

    revision: RevisionNumber | None = None
    expires_in_s: Annotated[int, Meta(ge=1, le=SHARE_MAX_AGE_S)] = SHARE_DEFAULT_AGE_S


class ShareLink(Struct, frozen=True, rename="camel"):
    token: str
    url: str
    """The IDE's page opening the revision read-only."""
    revision: int
    expires_at: float


class WorkspaceList(Struct, frozen=True, rename="camel"):
    workspaces: list[str]


def files_or_workspace(files: Sized, workspace: WorkspaceRef | None) -> None:
    """A socket frame's ``__post_init__``: it sends files or names a workspace, exactly one
    (a ValueError is the frame's decoding error)."""
    if files and workspace is not None:
        raise ValueError("send files or a workspace, not both")
    if not files and workspace is None:
        raise ValueError("files must hold at least one file (or name a workspace)")


def workspace_id_problem(workspace_id: str) -> str | None:
    if _WORKSPACE_ID.fullmatch(workspace_id) is None:
        return "a workspace id is 1 to 64 letters, digits, '-' or '_'"
    return None


def path_problem(path: str) -> str | None:
    """Why a file path cannot be in a workspace, or None: relative, forward slashes, no empty,
    ``.`` or ``..`` segment, no NUL or control character, at most ``WORKSPACE_MAX_PATH``."""
    if not path:
        return "is empty"
    if len(path) > WORKSPACE_MAX_PATH:
        return f"is longer than {WORKSPACE_MAX_PATH} characters"
    if "\x00" in path:
        return "contains NUL"
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        return "must be a relative path with forward slashes"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "must not contain empty, '.' or '..' segments"
    if any(ord(ch) < 32 or ord(ch) == 0x7F for ch in path):
        return "contains a control character"
    return None


def tree_limit_problem(tree: Tree) -> str | None:
    """Why a tree is too large (file count, total size), or None."""
    if len(tree) > WORKSPACE_MAX_FILES:
        return f"a workspace holds at most {WORKSPACE_MAX_FILES} files"
    total = sum(ref.size for ref in tree.values())
    if total > WORKSPACE_MAX_TOTAL_BYTES:
        return f"the files total {total} bytes; the limit is {WORKSPACE_MAX_TOTAL_BYTES}"
    return None


def tree_shape_problem(tree: Tree) -> str | None:
    """Why a tree cannot be files and folders (a path both file and folder), or None."""
    for path in tree:
        parts = path.split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in tree:
                return f"{path!r} is inside {'/'.join(parts[:end])!r}, which is a file"
    return None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compare(old: Tree, new: Tree) -> tuple[list[str], list[str], list[str]]:
    """Added, removed and changed paths from ``old`` to ``new``, each sorted."""
    added = sorted(p for p in new if p not in old)
    removed = sorted(p for p in old if p not in new)
    changed = sorted(p for p in new if p in old and old[p].sha256 != new[p].sha256)
    return added, removed, changed

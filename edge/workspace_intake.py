"""A request that names a workspace instead of sending its files: ``"workspace": {"id": …,
"revision": n}`` in place of ``"files"`` (docs/workspaces.md#running-a-workspace).

The HTTP API replaces it by the revision's files before it decodes the request, so the request
type, the job and everything downstream are as if the client had sent them
(``with_workspace_files``). A socket frame is decoded once, its ``workspace`` typed
(``contracts.workspaces.WorkspaceRef``); ``OwnedWorkspaces`` reads the files for its
``files`` before anything else reads it. Both read the files with the same rules and refuse
with the same errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from contracts.judging import JudgeFrame
from contracts.messages import ExecuteCode, SourceFile
from contracts.workspaces import WorkspaceRef
from edge.nats_connection import SubmitError
from edge.workspaces import NotFound, Unavailable, WorkspaceError, Workspaces

Frame = TypeVar("Frame", ExecuteCode, JudgeFrame)
"""A socket frame that may name a workspace instead of sending its files."""
source_files_type = list[SourceFile]


class NamesWorkspace(msgspec.Struct, frozen=True):
    """Only the ``workspace`` field of a request (the rest is the door's type's to check)."""

    workspace: msgspec.Raw = msgspec.Raw()
    """Empty when the request has no ``workspace``."""


names_decoder = msgspec.json.Decoder(NamesWorkspace)


async def with_workspace_files(body: bytes, owner: str, workspaces: Workspaces) -> bytes:
    """``body`` (a JSON object) with its ``workspace`` replaced by that revision's ``files`` of
    ``owner``'s workspace; unchanged when it names none. Raises WorkspaceError (an unknown
    workspace or revision: 404; a bad reference, or ``files`` as well: 400)."""
    if b'"workspace"' not in body:  # every run passes here: most name none
        return body
    try:
        named = names_decoder.decode(body)
    except msgspec.DecodeError:  # not a JSON object: the door's decoder says why
        return body
    if not named.workspace or bytes(named.workspace) == b"null":
        return body
    try:
        reference = msgspec.json.decode(named.workspace, type=WorkspaceRef)
    except msgspec.DecodeError as exc:
        raise WorkspaceError(f"the workspace reference is not valid: {exc}") from None
    request: dict[str, Any] = msgspec.json.decode(body)
    if request.get("files"):  # an empty list sends none, as on the socket
        raise WorkspaceError("send files or a workspace, not both")
    files = await workspaces.text_files(owner, reference.id, reference.revision)
    del request["workspace"]
    request["files"] = [{"name": path, "content": content} for path, content in files]
    return msgspec.json.encode(request)


@dataclass(frozen=True)
class OwnedWorkspaces:
    """The workspaces a request may name instead of sending files: ``owner``'s. A socket's
    owner is the one the IDE's workspaces have (``key:local`` on an installation without API
    keys: docs/workspaces.md#owners); ``owner`` None: the socket has none (with API keys the
    IDE's page holds no key), so every workspace it names is ``not_found``, as another
    owner's is."""

    workspaces: Workspaces
    owner: str | None

    async def files(self, reference: WorkspaceRef) -> tuple[int, list[SourceFile]]:
        """The revision's number (the newest when the reference names none) and its files,
        checked as a request's files are. Raises WorkspaceError: an unknown workspace or
        revision (NotFound), no files, a file that is not UTF-8 or that a run cannot have, the
        store not answering (Unavailable: `not_ready`)."""
        if self.owner is None:
            raise NotFound(f"no workspace {reference.id!r} of this session: on an installation "
                           "with API keys the socket has no workspaces")
        try:
            revision = await self.workspaces.revision(self.owner, reference.id,
                                                      reference.revision)
            texts = await self.workspaces.texts(revision)
        except SubmitError as exc:  # NATS: a socket answers with an error event, not a crash
            raise Unavailable(str(exc)) from None
        number = revision.summary.revision
        if not texts:
            raise WorkspaceError(f"revision {number} of workspace {reference.id!r} has no files")
        try:
            files = msgspec.convert([{"name": path, "content": content} for path, content in texts],
                                    source_files_type)
        except msgspec.ValidationError as exc:
            raise WorkspaceError(f"the workspace's files cannot be run: {exc}") from None
        return number, files

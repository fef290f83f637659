"""A request that names a workspace instead of sending its files: ``"workspace": {"id": …,
"revision": n}`` in place of ``"files"``. The door replaces it by the revision's files before
it decodes the request, so the request type, the job and everything downstream are as if the
client had sent them (docs/workspaces.md)."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.workspaces import RevisionNumber, WorkspaceId
from edge.workspaces import WorkspaceError, Workspaces


class WorkspaceRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: WorkspaceId
    revision: RevisionNumber | None = None


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
    if "files" in request:
        raise WorkspaceError("send files or a workspace, not both")
    files = await workspaces.text_files(owner, reference.id, reference.revision)
    del request["workspace"]
    request["files"] = [{"name": path, "content": content} for path, content in files]
    return msgspec.json.encode(request)

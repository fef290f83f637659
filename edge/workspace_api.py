"""The HTTP API's workspaces (docs/workspaces.md): files, revisions, compare, restore, zip,
and read-only share links. Owners are API keys (``key:<name>``; ``key:local`` when the
installation has no keys); a share link reads one revision without a key."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.subjects import owner_digest
from contracts.workspaces import (
    WORKSPACE_MAX_FILE_BYTES,
    Comparison,
    FileInfo,
    RestoreRequest,
    Revision,
    RevisionList,
    SavedRevision,
    ShareLink,
    ShareRequest,
    WorkspaceList,
    WorkspaceView,
    compare,
)
from edge.api import Api, ApiProblem, decode, json_response, read_body, read_raw
from edge.workspace_share import SharedRevision, ShareLinks
from edge.workspace_sweep import ContentSweep
from edge.workspace_zip import MAX_ZIP_BYTES, ZipProblem, read_zip, write_zip
from edge.workspaces import WorkspaceError, Workspaces, check_id

UNTRUSTED_CONTENT = {"X-Content-Type-Options": "nosniff",
                     "Content-Security-Policy": "sandbox; default-src 'none'"}
"""A stored file is served as bytes that no browser may run as a page of this origin."""
restore_decoder = msgspec.json.Decoder(RestoreRequest)
share_decoder = msgspec.json.Decoder(ShareRequest)


class WorkspaceApi:
    def __init__(self, api: Api, workspaces: Workspaces, links: ShareLinks,
                 sweep: ContentSweep | None = None) -> None:
        self.api = api
        self.workspaces = workspaces
        self.links = links
        self.sweep = sweep
        """Run after a workspace is deleted: its contents go once nothing names them (None:
        never, as in unit tests)."""

    def routes(self) -> list[Route]:
        """Paths under ``/api``."""
        w = "/v1/workspaces/{id}"
        return [
            Route("/v1/workspaces", self.list, methods=["GET"]),
            Route(w, self.workspace, methods=["GET", "DELETE"]),
            Route(w + "/files/{path:path}", self.file, methods=["GET", "PUT", "DELETE"]),
            Route(w + "/revisions", self.revisions, methods=["GET"]),
            Route(w + "/compare", self.compare, methods=["GET"]),
            Route(w + "/restore", self.restore, methods=["POST"]),
            Route(w + "/zip", self.zip, methods=["GET", "PUT"]),
            Route(w + "/share", self.share, methods=["POST"]),
            Route("/v1/shared/{token}", self.shared_view, methods=["GET"]),
            Route("/v1/shared/{token}/files/{path:path}", self.shared_file, methods=["GET"]),
            Route("/v1/shared/{token}/zip", self.shared_zip, methods=["GET"]),
        ]

    async def owner(self, request: Request) -> str:
        return (await self.api.caller(request)).owner

    async def list(self, request: Request) -> Response:
        return json_response(WorkspaceList(await self.workspaces.ids(await self.owner(request))))

    async def workspace(self, request: Request) -> Response:
        """One route for both methods, so that a 405 lists them both in Allow."""
        return await (self.delete(request) if request.method == "DELETE" else self.view(request))

    async def delete(self, request: Request) -> Response:
        """The whole workspace, every revision: 204. Its contents are swept afterwards."""
        owner = await self.owner(request)
        async with answering():
            await self.workspaces.delete_workspace(owner, request.path_params["id"])
        if self.sweep is not None:
            self.sweep.start()
        return Response(status_code=204)

    async def view(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        async with answering():
            head = await self.workspaces.head(owner, workspace_id)
            revision = await self.workspaces.revision(owner, workspace_id,
                                                      revision_of(request, "revision"))
        return json_response(view_of(workspace_id, revision, head.current.summary.revision))

    async def file(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id, path = request.path_params["id"], request.path_params["path"]
        async with answering():
            if request.method == "GET":
                number = revision_of(request, "revision")
                data = await self.workspaces.read(owner, workspace_id, path, number)
                return file_response(data)
            base = revision_of(request, "base")
            if request.method == "DELETE":
                made = await self.workspaces.delete(owner, workspace_id, path, base)
                return json_response(SavedRevision(workspace_id, made.summary.revision))
            data = await read_raw(request, WORKSPACE_MAX_FILE_BYTES)
            made = await self.workspaces.put(owner, workspace_id, path, data, base)
        return json_response(SavedRevision(workspace_id, made.summary.revision,
                                           made.tree[path].sha256))

    async def revisions(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        async with answering():
            head = await self.workspaces.head(owner, workspace_id)
        return json_response(RevisionList(workspace_id, head.history))

    async def compare(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        first, second = revision_of(request, "from"), revision_of(request, "to")
        if first is None:
            raise ApiProblem(400, "invalid_request", "compare needs ?from=<revision>")
        async with answering():
            old = await self.workspaces.revision(owner, workspace_id, first)
            new = await self.workspaces.revision(owner, workspace_id, second)
        added, removed, changed = compare(old.tree, new.tree)
        return json_response(Comparison(old.summary.revision, new.summary.revision, added,
                                        removed, changed))

    async def restore(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        spec: RestoreRequest = decode(restore_decoder, await read_body(request))
        async with answering():
            made = await self.workspaces.restore(owner, workspace_id, spec.revision)
        return json_response(SavedRevision(workspace_id, made.summary.revision))

    async def zip(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        async with answering():
            if request.method == "GET":
                revision = await self.workspaces.revision(owner, workspace_id,
                                                          revision_of(request, "revision"))
                return await self.zip_response(workspace_id, revision)
            check_id(workspace_id)
            try:
                files = read_zip(await read_raw(request, MAX_ZIP_BYTES))
            except ZipProblem as exc:
                raise ApiProblem(413 if exc.too_large else 400,
                                 "too_large" if exc.too_large else "invalid_request",
                                 str(exc)) from None
            made = await self.workspaces.replace(owner, workspace_id, files, "upload")
        return json_response(SavedRevision(workspace_id, made.summary.revision))

    async def zip_response(self, workspace_id: str, revision: Revision) -> Response:
        data = write_zip(await self.workspaces.contents(revision))
        name = f"{workspace_id}-r{revision.summary.revision}.zip"
        return Response(data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    async def share(self, request: Request) -> Response:
        owner = await self.owner(request)
        workspace_id = request.path_params["id"]
        spec: ShareRequest = decode(share_decoder, await read_body(request) or b"{}")
        async with answering():
            revision = await self.workspaces.revision(owner, workspace_id, spec.revision)
        expires = int(time.time()) + spec.expires_in_s
        number = revision.summary.revision
        token = self.links.sign(SharedRevision(owner_digest(owner), workspace_id, number,
                                               expires))
        return json_response(ShareLink(token, f"/?share={token}", number, float(expires)), 201)

    # --- share links: no key, one revision, read only ------------------------------------------

    async def opened(self, request: Request) -> tuple[SharedRevision, Revision]:
        shared = self.links.verify(request.path_params["token"], time.time())
        if shared is None:
            raise ApiProblem(403, "forbidden", "this share link is not valid or has expired")
        async with answering():
            revision = await self.workspaces.revision_of(shared.owner_digest,
                                                         shared.workspace_id, shared.revision)
        return shared, revision

    async def shared_view(self, request: Request) -> Response:
        shared, revision = await self.opened(request)
        return json_response(view_of(shared.workspace_id, revision, shared.revision, True))

    async def shared_file(self, request: Request) -> Response:
        _, revision = await self.opened(request)
        async with answering():
            return file_response(await self.workspaces.file_of(revision,
                                                               request.path_params["path"]))

    async def shared_zip(self, request: Request) -> Response:
        shared, revision = await self.opened(request)
        return await self.zip_response(shared.workspace_id, revision)


@contextlib.asynccontextmanager
async def answering() -> AsyncIterator[None]:
    """A WorkspaceError raised inside becomes the API's error answer."""
    try:
        yield
    except WorkspaceError as exc:
        raise ApiProblem(exc.status, exc.code, str(exc)) from None


def view_of(workspace_id: str, revision: Revision, latest: int,
            read_only: bool = False) -> WorkspaceView:
    files = [FileInfo(path, ref.size, ref.sha256) for path, ref in sorted(revision.tree.items())]
    return WorkspaceView(workspace_id, revision.summary.revision, latest, files, read_only)


def revision_of(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 12:
        raise ApiProblem(400, "invalid_request", f"{name} must be a revision number (1 or more)")
    return int(raw)


def file_response(data: bytes) -> Response:
    return Response(data, media_type="application/octet-stream", headers=UNTRUSTED_CONTENT)


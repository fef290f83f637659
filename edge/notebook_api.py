"""The HTTP API's notebooks (docs/api.md): open, run cells (``?wait=true``), interrupt,
restart and close. A cell is an execution: its result is read like any other."""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.api import (
    NotebookInfo,
    NotebookRequest,
    cell_request_decoder,
    notebook_request_decoder,
)
from contracts.messages import (
    KERNEL_RUNTIME,
    ExecutionRecord,
    NotebookAction,
    NotebookRecord,
    NotebookState,
    SourceFile,
)
from contracts.subjects import notebook_key
from contracts.workspaces import WorkspaceRef
from edge.api import Api, ApiProblem, decode, json_response, read_body
from edge.auth import Principal
from edge.intake import cell_job
from edge.notebooks import kernel_command, new_notebook_id
from edge.workspace_intake import OwnedWorkspaces
from edge.workspaces import WorkspaceError


class NotebookApi:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.bus = api.bus

    def routes(self) -> list[Route]:
        """Paths under ``/api``."""
        return [
            Route("/v1/notebooks", self.open, methods=["POST"]),
            Route("/v1/notebooks/{id}", self.close, methods=["DELETE"]),
            Route("/v1/notebooks/{id}/cells", self.run_cell, methods=["POST"]),
            Route("/v1/notebooks/{id}/interrupt", self.interrupt, methods=["POST"]),
            Route("/v1/notebooks/{id}/restart", self.restart, methods=["POST"]),
        ]

    async def open(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        spec: NotebookRequest = decode(notebook_request_decoder, await read_body(request))
        if self.api.catalog.get(KERNEL_RUNTIME) is None:
            raise ApiProblem(503, "not_ready", "no python runtime for notebook kernels")
        workspace = spec.workspace
        if workspace is not None:  # refused now if it cannot be had; its cells read it again
            number, _ = await self.workspace_files(principal, workspace)
            workspace = WorkspaceRef(workspace.id, number)
        notebook_id = spec.notebook_id or new_notebook_id()
        record = NotebookRecord(notebook_id, principal.owner, spec.kernel, time.time(),
                                workspace)
        await self.bus.notebooks.put(notebook_key(principal.owner, notebook_id), record)
        return json_response(NotebookInfo(notebook_id, "open", spec.kernel), 201,
                             {"Location": f"/api/v1/notebooks/{notebook_id}"})

    async def owned(self, principal: Principal, notebook_id: str) -> NotebookRecord:
        record = None
        if 0 < len(notebook_id) <= 64:
            record = await self.bus.notebooks.get(notebook_key(principal.owner, notebook_id))
        if record is None or record.owner != principal.owner:
            raise ApiProblem(404, "not_found", f"no notebook {notebook_id!r} for this caller")
        return record

    async def run_cell(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        notebook = await self.owned(principal, request.path_params["id"])
        spec = decode(cell_request_decoder, await read_body(request))
        execution_id = uuid.uuid4().hex
        cell_id = spec.cell_id or f"cell-{execution_id[:8]}"
        files: list[SourceFile] = []
        if notebook.workspace is not None:
            _, files = await self.workspace_files(principal, notebook.workspace)
        job = cell_job(principal.owner, notebook.notebook_id, cell_id, spec.code,
                       notebook.kernel, execution_id=execution_id, request_id=spec.request_id,
                       limits=spec.limits, isolation=principal.isolation, files=files)
        await self.api.submit(principal, ExecutionRecord(
            execution_id, principal.owner, KERNEL_RUNTIME, job.submitted_at, spec.request_id,
            notebook_id=notebook.notebook_id, cell_id=cell_id), job)
        return await self.api.answer(request, execution_id)

    async def workspace_files(self, principal: Principal, reference: WorkspaceRef
                              ) -> tuple[int, list[SourceFile]]:
        """The revision and files of a workspace of the caller (docs/workspaces.md); raises
        ApiProblem."""
        try:
            return await OwnedWorkspaces(self.api.workspaces, principal.owner).files(reference)
        except WorkspaceError as exc:
            raise ApiProblem(exc.status, exc.code, str(exc)) from None

    async def interrupt(self, request: Request) -> Response:
        return await self.command(request, "interrupt")

    async def restart(self, request: Request) -> Response:
        return await self.command(request, "restart")

    async def close(self, request: Request) -> Response:
        return await self.command(request, "close")

    async def command(self, request: Request, action: NotebookAction) -> Response:
        principal = await self.api.caller(request)
        notebook = await self.owned(principal, request.path_params["id"])
        reply = await kernel_command(self.bus, principal.owner, notebook.notebook_id, action)
        if action == "close":
            await self.bus.notebooks.delete(notebook_key(principal.owner, notebook.notebook_id))
        state: NotebookState = reply.state
        return json_response(NotebookInfo(notebook.notebook_id, state, notebook.kernel,
                                          reply.message))

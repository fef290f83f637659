"""What the socket and the HTTP API share about notebooks: cell jobs and kernel commands."""

from __future__ import annotations

import time
import uuid

from contracts.messages import (
    CellJob,
    Isolation,
    Limits,
    NotebookAction,
    NotebookCommand,
    NotebookReply,
)
from contracts.subjects import PRIORITY_BACKGROUND, notebook_key
from edge.bus import EdgeBus


def new_notebook_id() -> str:
    return uuid.uuid4().hex[:16]


def cell_job(owner: str, notebook_id: str, cell_id: str, code: str, kernel: str, *,
             execution_id: str | None = None, request_id: str | None = None,
             limits: Limits | None = None, keep_output: bool = False,
             isolation: Isolation = "runc") -> CellJob:
    """A cell as a job: priority 0 (notebooks and background), after the notebook's earlier
    cells (the dispatcher runs one cell of a notebook at a time)."""
    return CellJob(
        execution_id=execution_id or uuid.uuid4().hex, owner=owner,
        priority=PRIORITY_BACKGROUND, submitted_at=time.time(), request_id=request_id,
        limits=limits, keep_output=keep_output, isolation=isolation, notebook_id=notebook_id,
        cell_id=cell_id, code=code, kernel=kernel,
    )


async def kernel_command(bus: EdgeBus, owner: str, notebook_id: str,
                         action: NotebookAction) -> NotebookReply:
    """Interrupt, restart or close the owner's kernel of ``notebook_id``, wherever it runs."""
    reply = await bus.commands.notebook_command(notebook_key(owner, notebook_id),
                                                NotebookCommand(action))
    if action == "close" and reply.state == "none":
        return NotebookReply("closed")  # nothing was running: closed all the same
    return reply

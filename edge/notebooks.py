"""What the socket and the HTTP API share about notebooks: cell jobs and kernel commands."""

from __future__ import annotations

import time
import uuid

from contracts.messages import (
    Isolation,
    Job,
    Limits,
    NotebookAction,
    NotebookCell,
    NotebookCommand,
    NotebookReply,
)
from contracts.subjects import PRIORITY_BACKGROUND, notebook_key
from edge.bus import EdgeBus

KERNEL_RUNTIME = "python"
"""Every kernel (python, bash) runs in the python image, which has Jupyter."""


def new_notebook_id() -> str:
    return uuid.uuid4().hex[:16]


def cell_job(owner: str, notebook_id: str, cell_id: str, code: str, kernel: str, *,
             execution_id: str | None = None, request_id: str | None = None,
             limits: Limits | None = None, keep_output: bool = False,
             isolation: Isolation = "runc") -> Job:
    """A cell as a job: priority 0 (notebooks and background), after the notebook's earlier
    cells (the dispatcher runs one cell of a notebook at a time)."""
    return Job(
        execution_id=execution_id or uuid.uuid4().hex, language=KERNEL_RUNTIME, files=[],
        main_file="", owner=owner, priority=PRIORITY_BACKGROUND, submitted_at=time.time(),
        request_id=request_id, limits=limits, keep_output=keep_output,
        notebook=NotebookCell(notebook_id, cell_id, code, kernel), isolation=isolation,
    )


async def kernel_command(bus: EdgeBus, owner: str, notebook_id: str,
                         action: NotebookAction) -> NotebookReply:
    """Interrupt, restart or close the owner's kernel of ``notebook_id``, wherever it runs."""
    reply = await bus.notebook_command(notebook_key(owner, notebook_id), NotebookCommand(action))
    if action == "close" and reply.state == "none":
        return NotebookReply("closed")  # nothing was running: closed all the same
    return reply

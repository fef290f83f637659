"""What the socket and the HTTP API share about notebooks: ids and kernel commands (their
cells are jobs: ``edge.intake.cell_job``)."""

from __future__ import annotations

import uuid

from contracts.messages import NotebookAction, NotebookCommand, NotebookReply
from contracts.subjects import notebook_key
from edge.bus import EdgeBus


def new_notebook_id() -> str:
    return uuid.uuid4().hex[:16]


async def kernel_command(bus: EdgeBus, owner: str, notebook_id: str,
                         action: NotebookAction) -> NotebookReply:
    """Interrupt, restart or close the owner's kernel of ``notebook_id``, wherever it runs."""
    reply = await bus.commands.notebook_command(notebook_key(owner, notebook_id),
                                                NotebookCommand(action))
    if action == "close" and reply.state == "none":
        return NotebookReply("closed")  # nothing was running: closed all the same
    return reply

"""What the edge asks of the runner that holds something: stdin, eof and stop for an
execution it runs, interrupt, restart and close for a notebook's kernel."""

from __future__ import annotations

import msgspec
import nats.errors

from contracts import subjects
from contracts.messages import (
    Control,
    ControlReply,
    NotebookCommand,
    NotebookReply,
    encode,
    notebook_reply_decoder,
)
from edge.nats_connection import NatsConnection

CONTROL_TIMEOUT_S = 2.0
"""How long the edge waits for the runner to take a stdin, eof or stop it passes on."""


class RunnerCommands:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def control(self, control: Control) -> None:
        """Publish without waiting for an answer (the dispatcher, too, hears a ``stop``)."""
        await self._connection.client.publish(subjects.control(control.execution_id),
                                              encode(control))

    async def deliver_control(self, control: Control,
                              timeout_s: float = CONTROL_TIMEOUT_S) -> ControlReply:
        """Hand stdin, eof or stop to the runner running the execution and wait for its
        answer: taken, or refused (input past its window, or it no longer runs)."""
        try:
            msg = await self._connection.client.request(
                subjects.control(control.execution_id), encode(control), timeout=timeout_s)
        except nats.errors.NoRespondersError:
            return ControlReply(False, "not_found", "the execution is no longer running")
        except nats.errors.TimeoutError:
            return ControlReply(False, "not_found", f"no runner answered within {timeout_s} s:"
                                " the execution has finished, or its runner is unreachable")
        return msgspec.json.decode(msg.data, type=ControlReply)

    async def notebook_command(self, key: str, command: NotebookCommand,
                               timeout_s: float = 10.0) -> NotebookReply:
        """Ask the runner holding notebook ``key``'s kernel; ``none`` when no runner has it."""
        try:
            msg = await self._connection.client.request(
                subjects.notebook_control(key), encode(command), timeout=timeout_s)
        except nats.errors.NoRespondersError:
            return NotebookReply("none")
        except nats.errors.TimeoutError:
            return NotebookReply("none", "the runner holding the kernel did not answer")
        return notebook_reply_decoder.decode(msg.data)

"""Session commands to every runner (``subjects.SESSION_CONTROL``): each answers what it holds
for one owner, or what a reset removed; the edge gathers the answers until every live runner
has answered, or the time is up."""

from __future__ import annotations

import asyncio

import msgspec

from contracts import subjects
from contracts.session_control import SessionCommand, SessionResources
from edge.nats_connection import NatsConnection

resources_decoder = msgspec.json.Decoder(SessionResources)


class SessionCommands:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection

    async def ask(self, command: SessionCommand, runners: int, timeout_s: float
                  ) -> list[SessionResources]:
        """Every answer that comes within ``timeout_s``, stopping once ``runners`` answered."""
        nc = self._connection.client
        inbox = nc.new_inbox()
        answers: list[SessionResources] = []
        sub = await nc.subscribe(inbox)
        try:
            await nc.publish(subjects.SESSION_CONTROL, msgspec.json.encode(command), reply=inbox)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while len(answers) < runners and (left := deadline - loop.time()) > 0:
                try:
                    msg = await sub.next_msg(timeout=left)
                except TimeoutError:
                    break
                answers.append(resources_decoder.decode(msg.data))
        finally:
            await sub.unsubscribe()
        return answers

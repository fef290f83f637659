"""The edge's side of NATS: one connection, and one part per thing the edge does with it (the
way nats.py hands out a JetStream context, KeyValue and ObjectStore over one client)."""

from __future__ import annotations

from contracts.nats_options import NatsOptions
from contracts.settings import DEFAULT_PROBLEMS_MAX_BYTES
from edge.execution_events import ExecutionEvents
from edge.execution_records import ExecutionRecords, IdempotencyKeys
from edge.executions_bucket import ExecutionsBucket
from edge.job_queue import JobQueue
from edge.language_server_commands import LanguageServerCommands
from edge.limits_bucket import LimitsBucket
from edge.nats_connection import NatsConnection
from edge.notebook_records import NotebookRecords
from edge.problem_store import ProblemStore
from edge.runner_commands import RunnerCommands
from edge.runner_heartbeats import RunnerHeartbeats
from edge.session_commands import SessionCommands
from edge.webhook_queue import WebhookQueue
from edge.workspace_store import WorkspaceStore


class EdgeBus:
    """Made with the app, connected in its lifespan (``connect``)."""

    def __init__(self, url: str, options: NatsOptions | None = None,
                 problems_max_bytes: int = DEFAULT_PROBLEMS_MAX_BYTES) -> None:
        self.connection = NatsConnection(url, options)
        self.jobs = JobQueue(self.connection)
        self.events = ExecutionEvents(self.connection)
        self.commands = RunnerCommands(self.connection)
        self.runners = RunnerHeartbeats(self.connection)
        self.executions = ExecutionsBucket(self.connection)
        """The ``executions`` bucket's entries by key (the compatible APIs' own keys)."""
        self.records = ExecutionRecords(self.executions)
        self.idempotency = IdempotencyKeys(self.executions)
        self.notebooks = NotebookRecords(self.executions)
        self.limits = LimitsBucket(self.connection)
        self.webhooks = WebhookQueue(self.connection)
        self.workspaces = WorkspaceStore(self.connection)
        self.problems = ProblemStore(self.connection, problems_max_bytes)
        """Stored problems' tests (judging)."""
        self.sessions = SessionCommands(self.connection)
        self.language_servers = LanguageServerCommands(self.connection)

    async def connect(self, once: bool = False) -> None:
        """Connect, retrying for ever (a service) or failing at once (``once``: a CLI)."""
        await self.connection.connect(once)

    async def close(self) -> None:
        await self.connection.close()

"""One execution inside a ready sandbox: the agent command, the event relay and the verdict."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from msgspec import Struct

from contracts.messages import (
    CompletionEvent,
    ExecutionEvent,
    Job,
    OutputEvent,
    StatusEvent,
    TableEvent,
    Verdict,
)
from contracts.runtimes import Runtime, expand
from contracts.settings import RunnerSettings
from runners.link import AgentEvent, AgentGone
from runners.sandbox import BASE_ENV, Sandbox

Publish = Callable[[ExecutionEvent], Awaitable[None]]
AGENT_GRACE_S = 5.0


class Limits(Struct, frozen=True):
    wall_ms: int
    cpu_ms: int
    memory_mb: int
    output_bytes: int
    processes: int


def resolve_limits(job: Job, runtime: Runtime, settings: RunnerSettings) -> Limits:
    """The request's limits, defaults from the runtime, all clamped to the server's maxima."""
    asked = job.limits
    base = runtime.limits
    default_wall = settings.max_wall_ms if job.interactive else base.wall_ms
    wall = (asked.wall_ms if asked and asked.wall_ms else None) or default_wall
    cpu = (asked.cpu_ms if asked and asked.cpu_ms else None) or max(base.cpu_ms, wall)
    memory = (asked.memory_mb if asked and asked.memory_mb else None) or base.memory_mb
    output_kb = (asked.output_kb if asked and asked.output_kb else None) or settings.output_cap_kb
    processes = (asked.processes if asked and asked.processes else None) or base.processes
    return Limits(
        wall_ms=min(wall, settings.max_wall_ms),
        cpu_ms=min(cpu, settings.max_wall_ms),
        memory_mb=min(memory, settings.max_memory_mb),
        output_bytes=min(output_kb, settings.output_cap_kb) * 1024,
        processes=min(processes, settings.max_processes),
    )


def agent_command(job: Job, runtime: Runtime, limits: Limits,
                  extra_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    sources = runtime.sources([f.name for f in job.files])
    steps: list[dict[str, Any]] = []
    if runtime.compile:
        argv = expand(runtime.compile, job.main_file, [], sources)
        steps.append({"phase": "compile", "argv": argv,
                      "server": runtime.compile_server is not None})
    steps.append({"phase": "run", "argv": expand(runtime.run, job.main_file, job.args, sources),
                  "zygote": runtime.fork_server is not None, "tables": runtime.tables})
    return {
        "op": "run",
        "files": [{"name": f.name, "content": f.content} for f in job.files],
        "steps": steps,
        "env": {**BASE_ENV, **runtime.env, **(extra_env or {})},
        "stdin": job.stdin,
        "closeStdin": not job.interactive or bool(job.stdin),
        "limits": {"wallMs": limits.wall_ms, "cpuMs": limits.cpu_ms,
                   "outputBytes": limits.output_bytes},
    }


def verdict_of(done: AgentEvent) -> Verdict:
    """Map the agent's report of the last step to a verdict; the order of checks matters."""
    if done.get("error") and done.get("phase") == "setup":
        return "internal_error"
    if done.get("stopped"):
        return "cancelled"
    if done.get("outputExceeded"):
        return "output_limit"
    if done.get("timedOut") or done.get("signal") == "SIGXCPU":
        return "time_limit"
    if done.get("oom"):
        return "memory_limit"
    failed = done.get("exitCode") != 0 or done.get("signal") is not None
    if done.get("phase") == "compile" and failed:
        return "compile_error"
    return "runtime_error" if failed else "ok"


def completion_of(done: AgentEvent, job: Job, queued_ms: int, wall_ms: int) -> CompletionEvent:
    verdict = verdict_of(done)
    return CompletionEvent(
        execution_id=job.execution_id,
        verdict=verdict,
        exit_code=done.get("exitCode"),
        signal=done.get("signal"),
        wall_ms=int(done.get("wallMs", wall_ms)),
        cpu_ms=int(done.get("cpuMs", 0)),
        memory_kb=int(done.get("memoryKb", 0)),
        truncated=bool(done.get("outputExceeded")),
        queued_ms=queued_ms,
        language=job.language,
        message=done.get("error"),
        request_id=job.request_id,
        webhook=job.webhook,
    )


def failure(job: Job, verdict: Verdict, message: str, queued_ms: int = 0) -> CompletionEvent:
    return CompletionEvent(
        execution_id=job.execution_id,
        verdict=verdict,
        queued_ms=queued_ms,
        language=job.language,
        message=message,
        request_id=job.request_id,
        webhook=job.webhook,
    )


async def execute(
    sandbox: Sandbox,
    job: Job,
    runtime: Runtime,
    limits: Limits,
    publish: Publish,
    queued_ms: int,
    extra_env: Mapping[str, str] | None = None,
) -> CompletionEvent:
    """Run ``job`` in ``sandbox`` and relay its events; raises AgentGone if the agent fails.

    ``running`` is published only after the agent has the job, so that a stop or stdin the
    client sends on seeing it reaches the agent after the job, never before.
    """
    started = time.monotonic()
    await sandbox.link.send(agent_command(job, runtime, limits, extra_env))
    await publish(StatusEvent(job.execution_id, "running", request_id=job.request_id))
    # The agent enforces the wall limit itself; this outer deadline only catches a dead agent.
    steps = 2 if runtime.compile else 1
    deadline = started + steps * limits.wall_ms / 1000 + AGENT_GRACE_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AgentGone("agent did not finish within the wall limit")
        event = await sandbox.link.next_event(timeout=remaining)
        kind = event.get("ev")
        if kind == "out":
            await publish(OutputEvent(job.execution_id, event["stream"], event["data"]))
        elif kind == "table":
            await publish(TableEvent(job.execution_id, event["columns"], event["rows"]))
        elif kind == "done":
            wall_ms = round((time.monotonic() - started) * 1000)
            return completion_of(event, job, queued_ms, wall_ms)

"""One execution inside a ready sandbox: the agent command, the event relay and the verdict."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from msgspec import Struct

from contracts.messages import (
    STDIN_WINDOW_BYTES,
    CompletionEvent,
    Control,
    ControlReply,
    ExecutionEvent,
    JobLimits,
    OutputEvent,
    ProgramJob,
    TableEvent,
    Verdict,
    completion_for,
    status_for,
)
from contracts.runtimes import Runtime, expand
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.link import AgentGone
from runners.sandbox import BASE_ENV, Sandbox

Publish = Callable[[ExecutionEvent], Awaitable[None]]
HARD_END_GRACE_S = 1.0
"""How long after a run's wall limit (or a stop) its agent has to report the end before the
runner takes the sandbox away (freezes it, then removes it): with the freeze's own bound the
client has its completion within the wall limit plus 2 s, whatever the program does."""
WATCH_TICK_S = 0.25
"""How often a run's watch looks again at its deadline (a stop moves it earlier)."""


class Overran(Exception):
    """The agent did not end a run within the grace: the sandbox must be taken away."""

    def __init__(self, verdict: Verdict, message: str, wall_ms: int) -> None:
        super().__init__(message)
        self.verdict: Verdict = verdict
        self.message = message
        self.wall_ms = wall_ms


class Commands(Protocol):
    def write_now(self, command: agent.AgentRequest) -> None: ...


class RunControl:
    """What a client sends a running execution, passed to its agent at once: a ``stop`` never
    waits behind input, and input is bounded: at most ``window`` bytes the program has not
    read yet (the agent acknowledges what it wrote to the program), past that a ``stdin`` is
    refused, so that neither the runner nor the agent holds more whatever a client sends."""

    def __init__(self, link: Commands, window: int = STDIN_WINDOW_BYTES) -> None:
        self.link = link
        self.window = window
        self.unread = 0
        self.stopped_at: float | None = None
        self.wall_end = math.inf
        """When the run's wall limit ends (its steps' limits added), once it started."""

    async def handle(self, control: Control) -> ControlReply:
        try:
            return self._pass_on(control)
        except AgentGone:
            return ControlReply(False, "not_found", "the execution is no longer running")

    def _pass_on(self, control: Control) -> ControlReply:
        if control.action == "stop":
            if self.stopped_at is None:
                self.stopped_at = time.monotonic()
            self.link.write_now(agent.Stop())
        elif control.action == "eof":
            self.link.write_now(agent.Eof())
        else:
            size = len(control.data.encode())
            if self.unread and self.unread + size > self.window:
                return ControlReply(False, "stdin_full", stdin_full_message(self.window))
            self.unread += size
            self.link.write_now(agent.Stdin(control.data))
        return ControlReply()

    def acknowledged(self, size: int) -> None:
        """The agent passed ``size`` bytes of input on (or dropped them: stdin closed)."""
        self.unread = max(0, self.unread - size)

    def hard_end(self) -> float:
        """When the agent must have reported: the wall limit's end, or a stop's, plus grace."""
        ends = [self.wall_end] + ([self.stopped_at] if self.stopped_at is not None else [])
        return min(ends) + HARD_END_GRACE_S


def stdin_full_message(window: int) -> str:
    return (f"stdin refused: the program has not read the {window} bytes of input it may have "
            "waiting (the limit per execution); send more once it has read some")


class RunLimits(Struct, frozen=True):
    """The limits one run gets: what its job asked for, the runtime's defaults for the rest,
    all clamped to the server's maxima (``resolve_limits``)."""

    wall_ms: int
    cpu_ms: int
    memory_mb: int
    output_bytes: int
    processes: int


def applied_limits(limits: RunLimits) -> JobLimits:
    """``limits`` as a completion shows them (in a request's units)."""
    return JobLimits(wall_ms=limits.wall_ms, cpu_ms=limits.cpu_ms, memory_mb=limits.memory_mb,
                     output_kb=limits.output_bytes // 1024, processes=limits.processes)


def resolve_limits(job: ProgramJob, runtime: Runtime, settings: RunnerSettings) -> RunLimits:
    """The request's limits, defaults from the runtime, all clamped to the server's maxima."""
    asked = job.limits
    base = runtime.limits
    default_wall = settings.max_wall_ms if job.interactive else base.wall_ms
    wall = (asked.wall_ms if asked and asked.wall_ms else None) or default_wall
    cpu = (asked.cpu_ms if asked and asked.cpu_ms else None) or max(base.cpu_ms, wall)
    memory = (asked.memory_mb if asked and asked.memory_mb else None) or base.memory_mb
    output_kb = (asked.output_kb if asked and asked.output_kb else None) or settings.output_cap_kb
    processes = (asked.processes if asked and asked.processes else None) or base.processes
    return RunLimits(
        wall_ms=min(wall, settings.max_wall_ms),
        cpu_ms=min(cpu, settings.max_wall_ms),
        memory_mb=min(memory, settings.max_memory_mb),
        output_bytes=min(output_kb, settings.output_cap_kb) * 1024,
        processes=min(processes, settings.max_processes),
    )


def agent_command(job: ProgramJob, runtime: Runtime, limits: RunLimits,
                  extra_env: Mapping[str, str] | None = None) -> agent.Run:
    sources = runtime.sources([f.name for f in job.files])
    steps: list[agent.StepSpec] = []
    if runtime.compile:
        argv = expand(runtime.compile, job.main_file, [], sources) + job.compile_options
        steps.append(agent.StepSpec("compile", argv, server=runtime.compile_server is not None))
    steps.append(agent.StepSpec("run", expand(runtime.run, job.main_file, job.args, sources),
                                zygote=runtime.fork_server is not None, tables=runtime.tables))
    return agent.Run(
        files=[agent.SourceFile(f.name, f.content) for f in job.files],
        steps=steps,
        env={**BASE_ENV, **runtime.env, **(extra_env or {})},
        limits=agent.StepLimits(limits.wall_ms, limits.cpu_ms, limits.output_bytes),
        stdin=job.stdin,
        close_stdin=not job.interactive or bool(job.stdin),
    )


def verdict_of(done: agent.Done) -> Verdict:
    """Map the agent's report of the last step to a verdict; the order of checks matters."""
    if done.error and done.phase == "setup":
        return "internal_error"
    if done.stopped:
        return "cancelled"
    if done.output_exceeded:
        return "output_limit"
    if done.timed_out or done.signal == "SIGXCPU":
        return "time_limit"
    if done.oom:
        return "memory_limit"
    failed = done.exit_code != 0 or done.signal is not None
    if done.phase == "compile" and failed:
        return "compile_error"
    return "runtime_error" if failed else "ok"


def completion_of(done: agent.Done, job: ProgramJob, limits: RunLimits, queued_ms: int,
                  wall_ms: int) -> CompletionEvent:
    """The completion of a run the agent ended with ``done``; ``wall_ms`` is the runner's own
    measure, used when no step ran."""
    return completion_for(
        job, verdict_of(done), done.error, queued_ms=queued_ms,
        wall_ms=wall_ms if done.wall_ms is None else done.wall_ms, exit_code=done.exit_code,
        signal=done.signal, cpu_ms=done.cpu_ms, memory_kb=done.memory_kb,
        truncated=done.output_exceeded, limits=applied_limits(limits),
    )


async def execute(
    sandbox: Sandbox,
    job: ProgramJob,
    runtime: Runtime,
    limits: RunLimits,
    publish: Publish,
    queued_ms: int,
    extra_env: Mapping[str, str] | None = None,
    control: RunControl | None = None,
) -> CompletionEvent:
    """Run ``job`` in ``sandbox`` and relay its events; raises AgentGone if the agent fails,
    Overran if it did not end the run within ``HARD_END_GRACE_S`` of the wall limit or a stop.

    ``running`` is published only after the agent has the job, so that a stop or stdin the
    client sends on seeing it reaches the agent after the job, never before.
    """
    control = control or RunControl(sandbox.link)
    started = time.monotonic()
    # The agent enforces the wall limit itself; the runner's watch catches an agent that
    # does not (starved, hung, gone): each step of the run has the wall limit.
    steps = 2 if runtime.compile else 1
    control.wall_end = started + steps * limits.wall_ms / 1000
    command = agent_command(job, runtime, limits, extra_env)
    await sandbox.link.send(command, timeout=control.hard_end() - started)
    await publish(status_for(job, "running"))
    while True:
        now = time.monotonic()
        if now >= control.hard_end():
            raise overran(control, round((now - started) * 1000))
        match await sandbox.link.event_within(min(control.hard_end() - now, WATCH_TICK_S)):
            case agent.Output(stream=stream, data=data):
                await publish(OutputEvent(job.execution_id, stream, data))
            case agent.Table(columns=columns, rows=rows):
                await publish(TableEvent(job.execution_id, columns, rows))
            case agent.StdinAck(size=size):
                control.acknowledged(size)
            case agent.Done() as done:
                wall_ms = round((time.monotonic() - started) * 1000)
                return completion_of(done, job, limits, queued_ms, wall_ms)
            case _:  # nothing within the tick, or an event that has no part in a run
                pass


def overran(control: RunControl, wall_ms: int) -> Overran:
    """A stop before the wall limit ends the run ``cancelled``, otherwise the limit did."""
    if control.stopped_at is not None and control.stopped_at < control.wall_end:
        return Overran("cancelled", f"the sandbox did not end the run within "
                       f"{HARD_END_GRACE_S} s of the stop; it was removed", wall_ms)
    return Overran("time_limit", f"the sandbox did not end the run within {HARD_END_GRACE_S} s"
                   " of its wall limit; it was removed", wall_ms)

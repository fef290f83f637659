"""One execution inside a ready sandbox: the agent command, the event relay and the verdict."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from msgspec import Struct

from contracts.messages import (
    MAX_LIMIT,
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
from runners.sandbox import BASE_ENV, FILE_SIZE_BYTES, STACK_HARD_BYTES, Sandbox

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

    def stopped_first(self) -> bool:
        """Whether a stop came before the wall limit's end (the run ends ``cancelled``)."""
        return self.stopped_at is not None and self.stopped_at < self.wall_end

    def hard_end(self) -> float:
        """When the agent must have reported: the wall limit's end, or a stop's, plus grace."""
        ends = [self.wall_end] + ([self.stopped_at] if self.stopped_at is not None else [])
        return min(ends) + HARD_END_GRACE_S


def stdin_full_message(window: int) -> str:
    return (f"stdin refused: the program has not read the {window} bytes of input it may have "
            "waiting (the limit per execution); send more once it has read some")


class RunLimits(Struct, frozen=True):
    """The limits one run gets: what its job asked for, the runtime's defaults for the rest,
    all clamped to the server's maxima (``resolve_limits``). A byte limit of 0 leaves the
    sandbox's own."""

    wall_ms: int
    cpu_ms: int
    memory_mb: int
    output_bytes: int
    processes: int
    cpu_extra_ms: int = 0
    """CPU time the run step may use past ``cpu_ms`` before it is killed: its verdict is
    ``time_limit`` all the same, but its real CPU time is measured (Judge0's
    ``cpu_extra_time``)."""
    stack_bytes: int = 0
    file_size_bytes: int = 0
    process_memory_bytes: int = 0
    """RLIMIT_AS of each process of the run step (the sandbox's memory limit holds for all)."""
    compile_wall_ms: int = 0
    """The compile step's own wall limit, and its CPU limit and address space below."""
    compile_cpu_ms: int = 0
    compile_process_memory_bytes: int = 0


def applied_limits(limits: RunLimits) -> JobLimits:
    """``limits`` as a completion shows them (in a request's units); a per-process or compile
    limit only when it differs from the default."""
    return JobLimits(
        wall_ms=limits.wall_ms, cpu_ms=limits.cpu_ms, memory_mb=limits.memory_mb,
        output_kb=limits.output_bytes // 1024, processes=limits.processes,
        cpu_extra_ms=limits.cpu_extra_ms or None,
        stack_kb=limits.stack_bytes // 1024 or None,
        file_size_kb=limits.file_size_bytes // 1024 or None,
        process_memory_kb=limits.process_memory_bytes // 1024 or None,
        compile_wall_ms=limits.compile_wall_ms
        if limits.compile_wall_ms != limits.wall_ms else None,
        compile_cpu_ms=limits.compile_cpu_ms if limits.compile_cpu_ms != limits.cpu_ms else None,
        compile_process_memory_kb=limits.compile_process_memory_bytes // 1024 or None,
    )


def resolve_limits(job: ProgramJob, runtime: Runtime, settings: RunnerSettings) -> RunLimits:
    """The request's limits, defaults from the runtime, all clamped to the server's maxima."""
    asked = job.limits or JobLimits()
    base = runtime.limits
    default_wall = settings.max_wall_ms if job.interactive else base.wall_ms
    wall = min(asked.wall_ms or default_wall, settings.max_wall_ms)
    cpu = min(asked.cpu_ms or max(base.cpu_ms, wall), settings.max_wall_ms)
    memory = asked.memory_mb or base.memory_mb
    output_kb = asked.output_kb or settings.output_cap_kb
    processes = asked.processes or base.processes
    return RunLimits(
        wall_ms=wall,
        cpu_ms=cpu,
        memory_mb=min(memory, settings.max_memory_mb),
        output_bytes=min(output_kb, settings.output_cap_kb) * 1024,
        processes=min(processes, settings.max_processes),
        cpu_extra_ms=max(0, min(asked.cpu_extra_ms or 0, settings.max_wall_ms - cpu)),
        stack_bytes=min(asked.stack_kb or 0, STACK_HARD_BYTES // 1024) * 1024,
        file_size_bytes=min(asked.file_size_kb or 0, FILE_SIZE_BYTES // 1024) * 1024,
        process_memory_bytes=min(asked.process_memory_kb or 0, MAX_LIMIT) * 1024,
        compile_wall_ms=min(asked.compile_wall_ms or wall, settings.max_wall_ms),
        compile_cpu_ms=min(asked.compile_cpu_ms or cpu, settings.max_wall_ms),
        compile_process_memory_bytes=min(asked.compile_process_memory_kb or 0, MAX_LIMIT) * 1024,
    )


def agent_command(job: ProgramJob, runtime: Runtime, limits: RunLimits,
                  extra_env: Mapping[str, str] | None = None) -> agent.Run:
    sources = runtime.sources([f.name for f in job.files])
    steps: list[agent.StepSpec] = []
    if runtime.compile:
        argv = expand(runtime.compile, job.main_file, [], sources) + job.compile_options
        # The warm compile server is one process for every compile: no limits of its own.
        server = runtime.compile_server is not None and not limits.compile_process_memory_bytes
        steps.append(agent.StepSpec(
            "compile", argv, server=server, wall_ms=limits.compile_wall_ms,
            cpu_ms=limits.compile_cpu_ms,
            address_space_bytes=limits.compile_process_memory_bytes))
    steps.append(agent.StepSpec(
        "run", expand(runtime.run, job.main_file, job.args, sources),
        zygote=runtime.fork_server is not None, tables=runtime.tables, wall_ms=limits.wall_ms,
        cpu_ms=limits.cpu_ms + limits.cpu_extra_ms, stack_bytes=limits.stack_bytes,
        file_size_bytes=limits.file_size_bytes, address_space_bytes=limits.process_memory_bytes))
    return agent.Run(
        files=[agent.SourceFile(f.name, f.content) for f in job.files],
        steps=steps,
        env={**BASE_ENV, **runtime.env, **(extra_env or {})},
        limits=agent.StepLimits(limits.wall_ms, limits.cpu_ms, limits.output_bytes),
        stdin=job.stdin,
        close_stdin=not job.interactive or bool(job.stdin),
    )


def wall_of_all_steps(runtime: Runtime, limits: RunLimits) -> int:
    """The run's wall limit in ms, its compile step's added."""
    return limits.wall_ms + (limits.compile_wall_ms if runtime.compile else 0)


def verdict_of(done: agent.Done, cpu_limit_ms: int | None = None) -> Verdict:
    """Map the agent's report of the last step to a verdict; the order of checks matters.
    A step that used more CPU time than ``cpu_limit_ms`` (its limit) reached it, killed or not
    (the kernel's CPU limit counts whole seconds, and a run may have extra time)."""
    if done.error and done.phase == "setup":
        return "internal_error"
    if done.stopped:
        return "cancelled"
    if done.output_exceeded:
        return "output_limit"
    over_cpu = cpu_limit_ms is not None and (done.cpu_ms or 0) > cpu_limit_ms
    if done.timed_out or done.signal == "SIGXCPU" or over_cpu:
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
    # A compile that failed by itself is compile_error even when its CPU passed the limit (the
    # kernel's CPU limit counts whole seconds): its time limit is the kill (SIGXCPU, timed out).
    cpu_limit = limits.cpu_ms if done.phase == "run" else None
    return completion_for(
        job, verdict_of(done, cpu_limit), done.error, queued_ms=queued_ms,
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
    # does not (starved, hung, gone): each step of the run has its wall limit.
    control.wall_end = started + wall_of_all_steps(runtime, limits) / 1000
    command = agent_command(job, runtime, limits, extra_env)
    await sandbox.link.send(command, timeout=control.hard_end() - started)
    await publish(status_for(job, "running", "compile" if runtime.compile else None))
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
            case agent.StepStarted(phase="run"):  # the compile step succeeded
                await publish(status_for(job, "running", "run"))
            case agent.Done() as done:
                wall_ms = round((time.monotonic() - started) * 1000)
                return completion_of(done, job, limits, queued_ms, wall_ms)
            case _:  # nothing within the tick, or an event that has no part in a run
                pass


def lost_while_ending(control: RunControl, now: float) -> tuple[Verdict, str] | None:
    """The verdict of a run whose sandbox was lost (its agent gone) after a stop or past its
    wall limit, when the run was being ended anyway: it ends as the stop or the limit ends it,
    not ``internal_error``. None when it was lost before either. (Under gVisor a fork bomb's
    kill at the wall limit can end the whole sandbox: gVisor's gofer socket disconnects.)"""
    if control.stopped_first():
        return "cancelled", "the run was stopped; its sandbox was lost as it ended the run"
    if now >= control.wall_end:
        return ("time_limit", "the program reached its wall limit; its sandbox was lost as it "
                "ended the run")
    return None


def overran(control: RunControl, wall_ms: int) -> Overran:
    """A stop before the wall limit ends the run ``cancelled``, otherwise the limit did."""
    if control.stopped_first():
        return Overran("cancelled", f"the sandbox did not end the run within "
                       f"{HARD_END_GRACE_S} s of the stop; it was removed", wall_ms)
    return Overran("time_limit", f"the sandbox did not end the run within {HARD_END_GRACE_S} s"
                   " of its wall limit; it was removed", wall_ms)

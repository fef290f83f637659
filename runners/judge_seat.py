"""A program compiled once in a sandbox kept for a judgement, then run again and again.

The compile is a program run's own compile step (``agent_command``), sent alone; each later run
sends only the run step, so the workspace and what the compiler made stay. Between the runs of
one judgement the sandbox is not reset: they are all one owner's, one submission's; it is reset
(or destroyed) when the judgement ends, as any used sandbox.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Protocol

import msgspec

from contracts.judging import CustomChecker, Interactor
from contracts.messages import JobFile, JobLimits, JudgementJob, ProgramJob
from contracts.runtimes import Runtime
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.execution import HARD_END_GRACE_S, RunLimits, agent_command
from runners.judge_steps import StepEnd, StepOverran, run_once
from runners.link import AgentGone
from runners.sandbox import Sandbox, SandboxError


class SandboxSource(Protocol):
    """Where a judgement's sandboxes come from and go back to (the runner's pools and slots)."""

    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        """A sandbox for ``runtime``: the owner's kept one (``owners_slot``) or a fresh one."""
        ...

    async def fit(self, sandbox: Sandbox, runtime: Runtime, memory_mb: int,
                  processes: int) -> Sandbox:
        """The sandbox with these limits (another one when they cannot change in place)."""
        ...

    def give_back(self, sandbox: Sandbox, owners_slot: bool) -> None:
        """Reset and keep it for the owner's next run (``owners_slot``), or destroy it."""
        ...

    async def take_away(self, sandbox: Sandbox) -> None:
        """Freeze and remove a sandbox that did not end a run in time."""
        ...


def compile_room(limits: RunLimits, runtime: Runtime, settings: RunnerSettings) -> RunLimits:
    """The limits of a judge's compile (the submission's, a checker's, an interactor's): at
    least the runtime's CPU for the compile step, and the server's longest wall, so that a
    loaded machine does not fail a compile that passes on a quiet one (a testlib checker's
    compile went past a 10 s wall at load 20 and every test was ``internal_error``); the CPU
    limit still ends a compile that works too long. A test's limits are for the program."""
    base = runtime.limits
    return msgspec.structs.replace(
        limits, wall_ms=max(limits.wall_ms, base.wall_ms), cpu_ms=max(limits.cpu_ms, base.cpu_ms),
        compile_wall_ms=max(limits.compile_wall_ms, settings.max_wall_ms),
        compile_cpu_ms=max(limits.compile_cpu_ms, base.cpu_ms))


def as_program(job: JudgementJob, limits: JobLimits | None,
               helper: CustomChecker | Interactor | None = None) -> ProgramJob:
    """The submission as a program run (its compile step and run step are a program's), or,
    given ``helper``, the judge's checker or interactor, in the judgement's trust scope."""
    source = helper or job
    return ProgramJob(
        execution_id=job.execution_id, owner=job.owner, priority=job.priority,
        submitted_at=job.submitted_at, limits=limits, isolation=job.isolation,
        language=source.language, files=source.files, main_file=source.main_file,
        args=[] if helper else job.args,
        compile_options=[] if helper else job.compile_options)


class SeatLost(Exception):
    """The sandbox stopped answering or did not end a run in time; it is gone."""


class ProgramSeat:
    """``program`` compiled once in a sandbox; ``run`` runs it with other input, arguments and
    files. A sandbox lost on the way is replaced, and the program compiled again, on the next
    run; ``compile_limits`` are the compile's, whatever each run's."""

    def __init__(self, source: SandboxSource, program: ProgramJob, runtime: Runtime,
                 compile_limits: RunLimits, env: Mapping[str, str],
                 owners_slot: bool = False) -> None:
        self.source = source
        self.program = program
        self.runtime = runtime
        self.compile_limits = compile_limits
        self.env = dict(env)
        self.owners_slot = owners_slot
        self.sandbox: Sandbox | None = None
        self._ready = False
        """The sandbox holds the program (compiled, or its files written)."""
        self.written_bytes = 0
        """Bytes of extra files (a checker's input, output, answer) written since it was."""
        self.stopped = False

    def stop(self) -> None:
        """Kill the run under way, and every later one as soon as it is sent."""
        self.stopped = True
        self._stop_now()

    def _stop_now(self) -> None:
        if self.sandbox is not None:
            with contextlib.suppress(AgentGone):
                self.sandbox.link.write_now(agent.Stop())

    async def open(self, keep_bytes: int) -> StepEnd | None:
        """Take a sandbox and compile the program in it: the compile's end when it failed (the
        compiler's output in ``stderr``), else None. Raises SeatLost, SandboxError."""
        sandbox = await self._fitted(self.compile_limits)
        return await self._compile(sandbox, keep_bytes)

    async def run(self, limits: RunLimits, keep_bytes: int, stdin: str = "",
                  args: list[str] | None = None, files: list[JobFile] | None = None) -> StepEnd:
        """One run of the program. Raises SeatLost (a compile that fails in a replaced sandbox
        too: it compiled before, so the sandbox is at fault), SandboxError."""
        sandbox, command = await self._prepared(limits, keep_bytes, stdin, args, files)
        return await self._send(sandbox, command, limits.wall_ms, keep_bytes, limits.cpu_ms)

    async def begin(self, limits: RunLimits, keep_bytes: int, args: list[str] | None = None,
                    files: list[JobFile] | None = None) -> Sandbox:
        """Start one run with its stdin open (half of an interactive test) and return its
        sandbox: the caller relays its events and input, then calls ``lost`` if the sandbox
        failed. Raises SeatLost, SandboxError."""
        sandbox, command = await self._prepared(limits, keep_bytes, "", args, files,
                                                interactive=True)
        try:
            await sandbox.link.send(command, timeout=limits.wall_ms / 1000 + HARD_END_GRACE_S)
            if self.stopped:  # a stop written before the run would be forgotten by it
                self._stop_now()
        except (AgentGone, SandboxError) as exc:
            await self.lost(sandbox, overran=False)
            raise SeatLost(f"the sandbox stopped answering: {exc}") from None
        return sandbox

    async def lost(self, sandbox: Sandbox, overran: bool) -> None:
        """Give up a sandbox that did not end a run in time (``overran``: taken away) or
        stopped answering; the next run takes another."""
        self.sandbox = None
        if overran:
            await self.source.take_away(sandbox)
        else:
            self.source.give_back(sandbox, False)

    async def _prepared(self, limits: RunLimits, keep_bytes: int, stdin: str,
                        args: list[str] | None, files: list[JobFile] | None,
                        interactive: bool = False) -> tuple[Sandbox, agent.Run]:
        if self.runtime.compile and not self._ready:
            await self._compiled(await self._fitted(self.compile_limits), keep_bytes)
        sandbox = await self._fitted(limits)
        if self.runtime.compile and not self._ready:  # these limits took a new container
            await self._compiled(sandbox, keep_bytes)  # (gVisor's cannot change in place)
        extra = list(files or [])
        program = msgspec.structs.replace(
            self.program, stdin=stdin, args=list(args or []), interactive=interactive,
            files=extra if self._ready else [*self.program.files, *extra])
        command = agent_command(program, self.runtime, limits, self.env)
        self._ready = True  # compiled above, or (an interpreted program) written by this run
        self.written_bytes += sum(len(f.content.encode()) for f in extra)
        return sandbox, msgspec.structs.replace(command, steps=command.steps[-1:])

    async def close(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            self.source.give_back(sandbox, self.owners_slot)

    async def _compiled(self, sandbox: Sandbox, keep_bytes: int) -> None:
        if await self._compile(sandbox, keep_bytes) is not None:
            await self.close()
            raise SeatLost("the program compiled once but not again in a new sandbox")

    async def _compile(self, sandbox: Sandbox, keep_bytes: int) -> StepEnd | None:
        self._ready = False
        self.written_bytes = 0
        if not self.runtime.compile:
            return None
        command = agent_command(self.program, self.runtime, self.compile_limits, self.env)
        end = await self._send(sandbox, msgspec.structs.replace(command, steps=command.steps[:1]),
                               self.compile_limits.compile_wall_ms, keep_bytes)
        self._ready = end.verdict == "ok"
        return None if self._ready else end

    async def _fitted(self, limits: RunLimits) -> Sandbox:
        if self.sandbox is None:
            self._ready = False
            self.sandbox = await self.source.take(self.runtime, self.owners_slot)
        sandbox = self.sandbox
        if (sandbox.memory_mb, sandbox.processes) != (limits.memory_mb, limits.processes):
            self.sandbox = await self.source.fit(sandbox, self.runtime, limits.memory_mb,
                                                 limits.processes)
            if self.sandbox is not sandbox:  # a new container: nothing of the old one in it
                self._ready = False
        return self.sandbox

    async def _send(self, sandbox: Sandbox, command: agent.Run, wall_ms: int,
                    keep_bytes: int, cpu_limit_ms: int | None = None) -> StepEnd:
        try:
            return await run_once(sandbox, command, wall_ms, keep_bytes,
                                  sent=lambda: self._stop_now() if self.stopped else None,
                                  cpu_limit_ms=cpu_limit_ms)
        except StepOverran as exc:
            await self.lost(sandbox, overran=True)
            raise SeatLost(str(exc)) from None
        except (AgentGone, SandboxError) as exc:
            await self.lost(sandbox, overran=False)
            raise SeatLost(f"the sandbox stopped answering: {exc}") from None

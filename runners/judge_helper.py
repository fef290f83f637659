"""The judge's own program, a ``custom`` checker or an ``interactive`` problem's interactor: in
any catalog language, compiled once in a sandbox of its own (runners/judge_checker.py,
runners/judge_interactor.py)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from contracts.judging import CustomChecker, Interactor
from contracts.messages import JudgementJob
from contracts.runtimes import Catalog
from contracts.settings import RunnerSettings
from runners.execution import RunLimits, resolve_limits
from runners.judge_seat import ProgramSeat, SandboxSource, SeatLost, as_program, compile_room
from runners.judging.diff import cut
from runners.sandbox import SandboxError

REPORT_BYTES = 65_536
"""Of a checker's or an interactor's output, what is kept (its report is on stderr)."""


async def open_helper(helper: CustomChecker | Interactor, job: JudgementJob, catalog: Catalog,
                      settings: RunnerSettings, source: SandboxSource,
                      env: Mapping[str, str]) -> tuple[ProgramSeat, RunLimits] | str:
    """``helper`` compiled in its seat, and its limits; or why it cannot judge (a message for
    ``internal_error``)."""
    role = "checker" if isinstance(helper, CustomChecker) else "interactor"
    runtime = catalog.get(helper.language)
    if runtime is None:
        return f"the {role}'s language {helper.language!r} is not in the catalog"
    program = msgspec.structs.replace(as_program(job, helper.limits, helper),
                                      language=runtime.name)
    limits = resolve_limits(program, runtime, settings)
    seat = ProgramSeat(source, program, runtime, compile_room(limits, runtime, settings), env)
    try:
        failed = await seat.open(REPORT_BYTES)
    except (SeatLost, SandboxError) as exc:
        await seat.close()
        return f"the {role}'s sandbox failed: {exc}"
    if failed is not None:
        await seat.close()
        return cut(f"the {role} did not compile: {failed.stderr.strip()}", 400)
    return seat, limits

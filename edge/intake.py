"""One way in: a request to run code, with who sent it and through which door, as a ``Job``.

Every door builds its jobs here: the IDE's socket (programs and notebook cells) and the HTTP
API (executions and notebook cells; Judge0 and Piston are API executions). What differs between
doors (the priority, which container is reused, whether stdin stays open, the network) is
decided in one ``match``, from the door's request type, never in the door itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from contracts.api import ExecutionRequest
from contracts.judging import (
    CustomChecker,
    Interactor,
    JudgeFrame,
    JudgementRequest,
    StoredProblem,
    judgement_problem,
)
from contracts.messages import (
    CellJob,
    ExecuteCode,
    Isolation,
    JobFile,
    JudgementJob,
    Limits,
    ProgramJob,
    program_problem,
)
from contracts.runtimes import Catalog
from contracts.subjects import PRIORITY_API, PRIORITY_BACKGROUND, PRIORITY_WEBSOCKET
from edge.network_hint import needs_network


class NotRunnable(Exception):
    """The request cannot be run: ``code`` and ``message`` for the client (each door says it
    its own way: an error event, a 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FromSocket:
    """A program from the IDE's socket: a console tab per main file, whose container is kept
    for its next run; stdin stays open for live input; the session's network when the frame
    asks for it or, unsaid, when the source looks like it needs it."""

    program: ExecuteCode
    owner: str


@dataclass(frozen=True)
class FromApi:
    """An execution of the HTTP API (and of Judge0 and Piston, which are API executions): one
    container per key and language kept for the key's next run; no network; stdin closed
    unless ``interactive`` (Piston's socket sends input while it runs)."""

    program: ExecutionRequest
    owner: str
    isolation: Isolation
    interactive: bool = False
    compile_options: tuple[str, ...] = ()
    """Allow-listed words for the compile step (Judge0's ``compiler_options``)."""


def program_job(request: FromSocket | FromApi, catalog: Catalog, execution_id: str,
                now: float | None = None) -> ProgramJob:
    """The job that runs ``request``'s program; raises NotRunnable (``unknown_language``,
    ``invalid_request``)."""
    program = request.program
    runtime = catalog.get(program.language)
    if runtime is None:
        raise NotRunnable("unknown_language", f"unknown language {program.language!r}; this "
                      f"installation runs: {', '.join(catalog.names())}")
    if problem := program_problem(program.files, program.main_file):
        raise NotRunnable("invalid_request", problem)
    isolation: Isolation = "runc"
    webhook = False
    compile_options: list[str] = []
    match request:
        case FromSocket(program=frame):
            priority = PRIORITY_WEBSOCKET
            reuse_key = frame.main_file
            interactive = True
            network = (needs_network(runtime.name, frame.files) if frame.network is None
                       else frame.network)
        case FromApi(program=spec):
            priority = PRIORITY_BACKGROUND if spec.background else PRIORITY_API
            reuse_key = f"api:{runtime.name}"
            interactive = request.interactive
            network = False
            webhook = spec.callback_url is not None
            isolation = request.isolation
            compile_options = list(request.compile_options)
        case _:
            assert_never(request)
    return ProgramJob(
        execution_id=execution_id, owner=request.owner, priority=priority,
        submitted_at=time.time() if now is None else now, request_id=program.request_id,
        limits=program.limits, keep_output=True, isolation=isolation, webhook=webhook,
        language=runtime.name, files=program.files, main_file=program.main_file,
        reuse_key=reuse_key, interactive=interactive, stdin=program.stdin, args=program.args,
        network=network, compile_options=compile_options,
    )


def cell_job(owner: str, notebook_id: str, cell_id: str, code: str, kernel: str, *,
             execution_id: str, request_id: str | None = None, limits: Limits | None = None,
             isolation: Isolation = "runc", files: Sequence[JobFile] = ()) -> CellJob:
    """A notebook cell from either door: priority 0 (notebooks and background), after the
    notebook's earlier cells (the dispatcher runs one cell of a notebook at a time); its
    outputs kept for a client that reads them later. ``files``: those its kernel starts with
    (the notebook's workspace's)."""
    return CellJob(
        execution_id=execution_id, owner=owner, priority=PRIORITY_BACKGROUND,
        submitted_at=time.time(), request_id=request_id, limits=limits, keep_output=True,
        isolation=isolation, notebook_id=notebook_id, cell_id=cell_id, code=code,
        kernel=kernel, files=list(files),
    )


def judgement_job(request: JudgementRequest, owner: str, catalog: Catalog, execution_id: str,
                  isolation: Isolation = "runc", stored: StoredProblem | None = None
                  ) -> JudgementJob:
    """The job that judges ``request``: from the socket (a ``JudgeFrame``: the IDE's console
    tab's container and priority) or the HTTP API (the key's container for the language; a
    ``callbackUrl`` waits for the result). Its tests are the request's, or ``stored``'s (the
    problem its ``problemId`` names, read by the caller: None when there is none, refused as
    ``not_found``), whose checker, groups and limits are then the judgement's (its own
    ``limits`` first). Raises NotRunnable."""
    runtime = catalog.get(request.language)
    if runtime is None:
        raise NotRunnable("unknown_language", f"unknown language {request.language!r}; this "
                          f"installation runs: {', '.join(catalog.names())}")
    if problem := judgement_problem(request):
        raise NotRunnable("invalid_request", problem)
    if request.problem_id is not None and stored is None:  # never judged against no tests
        raise NotRunnable("not_found", f"no problem {request.problem_id!r} for this caller")
    checker = stored.checker if stored else request.checker
    match checker:
        case CustomChecker() | Interactor() as helper if catalog.get(helper.language) is None:
            raise NotRunnable("unknown_language",
                              f"unknown language {helper.language!r} for the checker")
        case _:
            pass
    match request:
        case JudgeFrame():
            priority, reuse_key, webhook = PRIORITY_WEBSOCKET, request.main_file, False
        case JudgementRequest():
            priority, reuse_key = PRIORITY_API, f"api:{runtime.name}"
            webhook = request.callback_url is not None
    return JudgementJob(
        execution_id=execution_id, owner=owner, priority=priority, submitted_at=time.time(),
        request_id=request.request_id, keep_output=True,
        limits=request.limits or (stored.limits if stored else None),
        isolation=isolation, webhook=webhook, language=runtime.name, files=request.files,
        main_file=request.main_file, tests=[*(stored.tests if stored else request.tests)],
        checker=checker, stop_on_first_failure=request.stop_on_first_failure,
        groups=stored.groups if stored else request.groups, reuse_key=reuse_key)

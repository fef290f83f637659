"""Judgements: one submission judged against many tests, compiled once (issue #21, docs/judging.md).

The request (``POST /api/v1/judgements``, the socket's ``judge`` frame) and the result, the
stored problems (``POST /api/v1/problems``) and the runner's events. A checker is
a tagged union on ``type``: the built-in comparisons, a ``custom`` checker program and an
``interactive`` problem's interactor, each one case. Same wire rules as contracts/messages.py:
camelCase fields, unknown fields refused, bounds in the types; what a type cannot say (unique
test names, groups naming real tests, total size) is checked by ``judgement_problem``.

The edge builds a ``JudgementJob`` from a request (edge/intake.py), a runner judges it
(runners/judge.py) and publishes ``TestResultEvent``s and a ``JudgementEvent``; see
docs/judging.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from contracts.program import (
    MAX_FILES,
    MAX_STDIN_BYTES,
    NO_CONTROL,
    FileName,
    Id,
    Language,
    Limits,
    SourceFile,
    program_problem,
)
from contracts.workspaces import WorkspaceRef, files_or_workspace

MAX_TESTS = 1000
"""Tests in one judgement; Codeforces and DMOJ problems rarely pass a few hundred."""
MAX_GROUPS = 100
MAX_EXPECTED_BYTES = 1_048_576
"""One test's expected output, inline (as a test's ``stdin``: ``MAX_STDIN_BYTES``)."""
MAX_INLINE_TEST_BYTES = 4 * 1_048_576
"""Every test's ``stdin`` and ``expectedOutput`` together, inline: with the program's files
(``MAX_TOTAL_BYTES``) a request stays within the edge's 8 MiB body. Larger sets belong in a
stored problem (``POST /api/v1/problems``, then ``problemId``)."""
MAX_STORED_OBJECT_BYTES = 64 * 1_048_576
"""A stored problem's test input or answer (each an object of ``subjects.PROBLEMS_STORE``)."""
MAX_POINTS = 1_000_000
"""A test's or a group's points (testlib's own cap on partial points is 1E6)."""
MAX_MESSAGE = 400
"""A checker's message, as sent back (longer ones are cut)."""
MAX_EXCERPT = 200
"""Each side of a diff, as sent back."""
MAX_COMPILE_OUTPUT = 65_536
"""The compiler's output on ``compile_error``, as sent back."""

TestName = Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_CONTROL)]
"""A test's or a group's name: any printable text (``"sample 1"``, ``"03"``), unique."""
ExpectedOutput = Annotated[str, Meta(max_length=MAX_EXPECTED_BYTES)]
TestInput = Annotated[str, Meta(max_length=MAX_STDIN_BYTES)]
Points = Annotated[int, Meta(ge=0, le=MAX_POINTS)]
Tolerance = Annotated[float, Meta(ge=0.0, le=1.0)]

TestVerdict = Literal[
    "accepted",
    "partial",
    "wrong_answer",
    "presentation_error",
    "time_limit",
    "memory_limit",
    "runtime_error",
    "output_limit",
    "compile_error",
    "internal_error",
    "skipped",
]
"""A test's verdict; also the judgement's (the first test's in order that is not ``accepted``).
``partial``: a custom checker gave some but not all of the test's points. ``internal_error``:
the checker or interactor failed (testlib exit 3, a crash, a loop), never the submission's
fault. ``skipped``: not judged, after a failure with ``stopOnFirstFailure``."""


class _Wire(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """Base of request types: unknown fields are an error."""


class _Result(Struct, frozen=True, rename="camel"):
    """Base of result types."""


# --- checkers ---------------------------------------------------------------------------------


class ExactChecker(_Wire, frozen=True, tag="exact", tag_field="type"):
    """The output equals the expected output character for character."""


class LinesChecker(_Wire, frozen=True, tag="lines", tag_field="type"):
    """Equal once trailing whitespace is taken off each line and then off the whole (Judge0's
    rule for ``expected_output``): final newlines and ``\\r\\n`` line ends do not matter."""


class LineTokensChecker(_Wire, frozen=True, tag="line_tokens", tag_field="type"):
    """Line by line, each line as its whitespace-separated tokens (testlib's ``lcmp``): spacing
    inside a line does not matter, where lines break does; empty lines at the end are ignored."""


class TokensChecker(_Wire, frozen=True, tag="tokens", tag_field="type"):
    """The same whitespace-separated tokens in the same order (testlib's ``wcmp``, DMOJ's
    ``standard`` without its line rule); ``ignoreCase`` compares them case-folded."""

    ignore_case: bool = False


class FloatChecker(_Wire, frozen=True, tag="float", tag_field="type"):
    """Tokens, where a number in the expected output matches a number within ``absolute`` or
    ``relative`` error (testlib's ``doubleCompare``; with both equal to ε it is testlib's
    ``rcmp``), and any other token matches exactly (DMOJ's mixed lines: ``YES 0.5``)."""

    absolute: Tolerance = 1e-6
    relative: Tolerance = 1e-6


class UnorderedChecker(_Wire, frozen=True, tag="unordered", tag_field="type"):
    """The same lines in any order, each line as its tokens; blank lines are ignored (DMOJ's
    ``sorted``)."""


class AnyOutputChecker(_Wire, frozen=True, tag="any", tag_field="type"):
    """Any output is accepted: a test fails only when its run does (a non-zero exit, a
    signal, a limit). Judge0's ``number_of_runs`` without ``expected_output`` is judged so;
    ``expectedOutput`` is not read (give it empty)."""


class _HelperProgram(_Wire, frozen=True):
    """A program of the judge's own, in any catalog language, run in a sandbox of its own."""

    language: Language
    files: Annotated[list[SourceFile], Meta(min_length=1, max_length=MAX_FILES)]
    main_file: FileName
    limits: Limits | None = None


class CustomChecker(_HelperProgram, frozen=True, tag="custom", tag_field="type"):
    """A checker program with testlib's conventions: arguments ``input output answer``; exit 0
    accepted, 1 wrong answer, 2 presentation error, 3 the checker's own failure
    (``internal_error``), 7 partial points (``points <p>`` on stderr, ``0 <= p <= points``)."""


class Interactor(_HelperProgram, frozen=True, tag="interactive", tag_field="type"):
    """An interactive problem: the interactor's stdout feeds the solution's stdin and the
    solution's stdout the interactor's stdin; the interactor, with arguments ``input output
    answer``, decides by its exit code as a ``custom`` checker does."""


BuiltinChecker = (
    ExactChecker | LinesChecker | LineTokensChecker | TokensChecker | FloatChecker
    | UnorderedChecker | AnyOutputChecker
)
"""The checkers that are functions of the outputs (runners/judging/checkers.py)."""
Checker = BuiltinChecker | CustomChecker | Interactor


# --- request ----------------------------------------------------------------------------------


class Case(_Wire, frozen=True, omit_defaults=True, tag="inline", tag_field="source"):
    """One test: ``stdin`` for the program, the answer it is checked against, and its points
    (1 by default; a test in a group scores through its group and must not name points)."""

    name: TestName
    expected_output: ExpectedOutput
    stdin: TestInput = ""
    points: Points | None = None
    limits: Limits | None = None
    """Replaces the judgement's ``limits`` for this test."""


Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class StoredCase(Struct, frozen=True, rename="camel", omit_defaults=True, tag="stored",
                 tag_field="source"):
    """A stored problem's test, as a job carries it: its input and answer by content hash
    (objects of ``subjects.PROBLEMS_STORE``), fetched by the runner that judges it."""

    name: str
    stdin_sha256: Sha256
    answer_sha256: Sha256
    points: Points | None = None
    limits: Limits | None = None


class Group(_Wire, frozen=True):
    """A subtask: ``points`` earned only when every one of its tests is ``accepted``."""

    name: TestName
    tests: Annotated[list[TestName], Meta(min_length=1, max_length=MAX_TESTS)]
    points: Points


class JudgementRequest(_Wire, frozen=True, omit_defaults=True):
    """``POST /api/v1/judgements``: the program (as for an execution) and either ``tests`` or a
    stored problem's ``problemId``; the program is compiled once, then run once per test."""

    language: Language
    files: Annotated[list[SourceFile], Meta(min_length=1, max_length=MAX_FILES)]
    main_file: FileName
    tests: Annotated[list[Case], Meta(max_length=MAX_TESTS)] = []
    problem_id: Id | None = None
    checker: Checker = LinesChecker()
    stop_on_first_failure: bool = False
    groups: Annotated[list[Group], Meta(max_length=MAX_GROUPS)] = []
    limits: Limits | None = None
    """Each test's limits unless it names its own."""
    request_id: Id | None = None
    callback_url: Annotated[str, Meta(max_length=2048)] | None = None
    """Where the result is POSTed once judged (HTTP API only; as for executions)."""


# --- result -----------------------------------------------------------------------------------


class Diff(_Result, frozen=True):
    """Where the output first differs from the expected output: 1-based ``line`` and ``column``
    in the output, and an excerpt of each side there (control characters escaped, cut to
    ``MAX_EXCERPT``; empty where that side has ended)."""

    line: int
    column: int
    expected: str
    got: str


class RunReport(_Result, frozen=True, omit_defaults=True):
    """How a test's run of the program ended, for a judgement that asks for its runs (a
    Judge0 submission's, ``JudgementJob.report_runs``; never one of ``POST
    /api/v1/judgements``). ``stdout`` and ``stderr`` (each cut at the test's output limit)
    are kept only for the test that decided the verdict (``decisive``); ``error`` is the
    agent's word on a run that could not start (``exec format error``)."""

    exit_code: int | None = None
    signal: str | None = None
    cpu_ms: int = 0
    stdout: str = ""
    stderr: str = ""
    error: str | None = None


class CaseResult(_Result, frozen=True, omit_defaults=True):
    """One test's outcome. ``score``: the points this test earned outside any group. ``run``:
    only in the stored result of a judgement that reports its runs (never in ``test`` or
    ``judgement`` events)."""

    name: str
    verdict: TestVerdict
    time_ms: int = 0
    memory_kb: int = 0
    score: float = 0.0
    checker_message: str = ""
    diff: Diff | None = None
    run: RunReport | None = None


def decisive(tests: list[CaseResult]) -> int | None:
    """The index of the test that decided a judgement's verdict: the first that is not
    ``accepted`` (``skipped`` ones come after it), else the last; None without tests."""
    for index, test in enumerate(tests):
        if test.verdict != "accepted":
            return index
    return len(tests) - 1 if tests else None


class GroupResult(_Result, frozen=True):
    name: str
    score: float
    max_score: float


class JudgementResult(_Result, frozen=True):
    """The judgement: ``verdict`` is the first test's (in request order) that is not
    ``accepted``, or ``accepted``; ``passed`` counts accepted tests; ``score`` adds the points of
    ungrouped tests and of groups whose tests all passed. Every field is always there."""

    id: str
    verdict: TestVerdict
    passed: int
    total: int
    score: float
    max_score: float
    tests: list[CaseResult]
    groups: list[GroupResult] = []
    message: str | None = None
    """The compiler's output on ``compile_error``; what failed on ``internal_error``."""
    status: Literal["completed"] = "completed"
    request_id: str | None = None


JudgementState = Literal["queued", "running", "completed"]


class JudgementStatus(_Result, frozen=True, omit_defaults=True):
    """``GET /api/v1/judgements/{id}`` before the judgement completed."""

    id: str
    status: JudgementState
    request_id: str | None = None


class JudgeFrame(JudgementRequest, frozen=True, kw_only=True, tag="judge", tag_field="type"):
    """A judgement from the browser socket (the IDE's Tests panel): its tests' results come
    as ``test`` events, then one ``judgement`` event, then the ``completion``. Its ``files``,
    or a ``workspace``'s (the edge puts them in ``files``, as for ``execute_code``)."""

    files: Annotated[list[SourceFile], Meta(max_length=MAX_FILES)] = []
    workspace: WorkspaceRef | None = None

    def __post_init__(self) -> None:
        files_or_workspace(self.files, self.workspace)


class _JudgementEvent(Struct, frozen=True, rename="camel", omit_defaults=True,
                      tag_field="type"):
    """Base of a judgement's events (execution events: on NATS and on the socket alike)."""


class TestResultEvent(_JudgementEvent, frozen=True, tag="test"):
    """One test's result, as soon as it is known (tests finish in any order; the judgement's
    result says which were ``skipped``)."""

    __test__ = False  # not a pytest class

    execution_id: str
    result: CaseResult


class JudgementEvent(_JudgementEvent, frozen=True, tag="judgement"):
    """The judgement's result, just before the execution's ``completion``."""

    execution_id: str
    result: JudgementResult


judgement_request_decoder = msgspec.json.Decoder(JudgementRequest)
# --- stored problems ----------------------------------------------------------------------------


class ProblemRequest(_Wire, frozen=True, omit_defaults=True):
    """``POST /api/v1/problems``: tests stored once (each input and answer content-addressed in
    the NATS object store), with the checker, groups and limits every judgement of it uses."""

    tests: Annotated[list[Case], Meta(min_length=1, max_length=MAX_TESTS)]
    checker: Checker = LinesChecker()
    groups: Annotated[list[Group], Meta(max_length=MAX_GROUPS)] = []
    limits: Limits | None = None


class StoredProblem(Struct, frozen=True, rename="camel", omit_defaults=True):
    """A problem as stored (``problem.<owner digest>.<id>`` in ``subjects.PROBLEMS_STORE``)."""

    owner: str
    tests: list[StoredCase]
    checker: Checker = LinesChecker()
    groups: list[Group] = []
    limits: Limits | None = None


class ProblemCreated(_Result, frozen=True):
    """The answer to ``POST /api/v1/problems``: the id judgements name (``problemId``); the same
    problem stored again by the same caller gets the same id."""

    id: str
    tests: int


problem_request_decoder = msgspec.json.Decoder(ProblemRequest)
stored_problem_decoder = msgspec.json.Decoder(StoredProblem)
judgement_result_decoder = msgspec.json.Decoder(JudgementResult)


def judgement_problem(request: JudgementRequest) -> str | None:
    """Why a decoded request cannot be judged, or None."""
    for problem in (
        program_problem(request.files, request.main_file),
        _helper_problem(request.checker),
        _suite_problem(request),
        _groups_problem(request.tests, request.groups),
    ):
        if problem:
            return problem
    return None


def _helper_problem(checker: Checker) -> str | None:
    match checker:
        case CustomChecker() | Interactor():
            problem = program_problem(checker.files, checker.main_file)
            return f"checker: {problem}" if problem else None
        case _:
            return None


def _suite_problem(request: JudgementRequest) -> str | None:
    if request.problem_id is not None:
        return "give tests or a problemId, not both" if request.tests else None
    if not request.tests:
        return "tests must hold at least one test (or give a problemId)"
    names = [test.name for test in request.tests]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        return f"test name {twice!r} appears twice"
    total = sum(len(test.stdin) + len(test.expected_output) for test in request.tests)
    if total > MAX_INLINE_TEST_BYTES:
        return (f"tests hold {total} bytes of input and expected output; the limit inline is "
                f"{MAX_INLINE_TEST_BYTES} (store larger sets as a problem)")
    return None


def _groups_problem(tests: list[Case], groups: list[Group]) -> str | None:
    by_name = {test.name: test for test in tests}
    group_names: set[str] = set()
    grouped: dict[str, str] = {}
    for group in groups:
        if group.name in group_names:
            return f"group name {group.name!r} appears twice"
        group_names.add(group.name)
        for name in group.tests:
            if by_name and name not in by_name:
                return f"group {group.name!r} names test {name!r}, which is not among the tests"
            if name in grouped:
                return f"test {name!r} is in groups {grouped[name]!r} and {group.name!r}"
            grouped[name] = group.name
            if name in by_name and by_name[name].points is not None:
                return (f"test {name!r} is in group {group.name!r}: it scores through the "
                        "group and must not name points")
    return None


def stored_problem_problem(request: ProblemRequest) -> str | None:
    """Why a problem cannot be stored, or None (the checks of an inline judgement, but the
    total size: each test's input and answer are stored apart)."""
    names = [test.name for test in request.tests]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        return f"test name {twice!r} appears twice"
    return _helper_problem(request.checker) or _groups_problem(request.tests, request.groups)

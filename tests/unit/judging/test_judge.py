"""The judge (runners/judge.py) on fake sandboxes: its seats, its events, its failures."""

from __future__ import annotations

from contracts.judging import Case, Interactor, TokensChecker
from contracts.messages import JudgementJob, SourceFile
from runners.judge import PARALLEL_SEATS, seats_wanted

ECHO = [SourceFile("a.py", "import sys\nsys.stdout.write(sys.stdin.read())\n")]


def job(**changes: object) -> JudgementJob:
    fields: dict[str, object] = {
        "execution_id": "j1", "owner": "key:a", "priority": 1, "submitted_at": 0.0,
        "language": "python", "files": ECHO, "main_file": "a.py", "tests": []}
    return JudgementJob(**{**fields, **changes})  # type: ignore[arg-type]


def cases(count: int) -> list[Case]:
    return [Case(name=str(n), expected_output="x", stdin="x") for n in range(count)]


def test_an_interactive_judgement_takes_one_seat_however_many_tests() -> None:
    interactor = Interactor(language="python", files=ECHO, main_file="a.py")
    assert seats_wanted(job(checker=interactor), cases(40)) == 1
    assert seats_wanted(job(checker=TokensChecker()), cases(40)) == PARALLEL_SEATS
    assert seats_wanted(job(), cases(2)) == 1

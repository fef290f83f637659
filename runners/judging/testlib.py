"""A checker or interactor program's verdict, by testlib's exit codes (DMOJ's testlib bridge
reads them the same way): 0 accepted, 1 wrong answer, 2 presentation error, 3 the checker's
own failure, 4 testlib's "wrong output format" (a presentation error), 7 partial points with
``points <p>`` in its report (stderr). Anything else, or a checker that did not end by itself
(killed by a limit, a signal), is ``internal_error``: a broken checker never judges."""

from __future__ import annotations

import re

from contracts.judging import MAX_MESSAGE
from contracts.messages import Verdict
from runners.judging.checkers import CheckOutcome
from runners.judging.diff import cut

_POINTS = re.compile(r"^points ([0-9]+(?:\.[0-9]*)?)(?:\s|$)", re.MULTILINE)


def program_outcome(verdict: Verdict, exit_code: int | None, report: str,
                    points: int) -> CheckOutcome:
    """The outcome of a checker (or interactor) run that ended with ``verdict`` and
    ``exit_code``, ``report`` being its stderr; ``points`` are the test's."""
    message = cut(report.strip(), MAX_MESSAGE)
    if verdict not in ("ok", "runtime_error") or exit_code is None:
        return CheckOutcome("internal_error", cut(f"the checker ended {verdict}: {message}",
                                                  MAX_MESSAGE))
    match exit_code:
        case 0:
            return CheckOutcome("accepted", message)
        case 1:
            return CheckOutcome("wrong_answer", message)
        case 2 | 4:
            return CheckOutcome("presentation_error", message)
        case 7:
            return _partial(report, message, points)
        case 3:
            return CheckOutcome("internal_error", cut(f"the checker failed: {message}",
                                                      MAX_MESSAGE))
        case code:
            return CheckOutcome("internal_error", cut(
                f"the checker exited {code}, which testlib does not define: {message}",
                MAX_MESSAGE))


def _partial(report: str, message: str, points: int) -> CheckOutcome:
    found = _POINTS.search(report)
    if found is None:
        return CheckOutcome("internal_error", cut(
            f"the checker exited 7 (points) without 'points <p>' in its report: {message}",
            MAX_MESSAGE))
    given = float(found.group(1))
    if given > points:
        return CheckOutcome("internal_error", cut(
            f"the checker gave {given:g} points of {points}: {message}", MAX_MESSAGE))
    if given == points:
        return CheckOutcome("accepted", message)
    if given == 0:
        return CheckOutcome("wrong_answer", message)
    return CheckOutcome("partial", message, points=given)

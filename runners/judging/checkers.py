"""The built-in checkers: pure functions from the expected output and the program's output to a
verdict, a short message and, where it helps, a diff (docs/judging.md, Checkers).

``presentation_error`` means the outputs hold the same tokens and differ only in whitespace or
where lines break; the checkers that ignore whitespace altogether never give it. Whitespace is
ASCII's (space, tab, newline, ``\\v``, ``\\f``, ``\\r``), as in testlib and DMOJ; the ``lines``
checker alone keeps the Judge0 layer's rule (Python's ``str.rstrip``), so that moving Judge0's
``expected_output`` onto it changes no verdict.
"""

from __future__ import annotations

import math
import operator
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal, assert_never

from contracts.judge0 import judge0_form
from contracts.judging import (
    MAX_MESSAGE,
    AnyOutputChecker,
    BuiltinChecker,
    Diff,
    ExactChecker,
    FloatChecker,
    LinesChecker,
    LineTokensChecker,
    TokensChecker,
    UnorderedChecker,
)
from runners.judging.diff import common_prefix, cut, diff_at, first_difference, shown

WHITESPACE = " \t\n\v\f\r"
_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")
_SPACES = re.compile(r"[ \t\n\v\f\r]+")
_NUMBER = re.compile(r"[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+")
"""A decimal number as testlib's ``readDouble`` takes it: no ``inf``, ``nan``, hex or ``_``.
Possessive and unambiguous, so a long token that is not a number fails in linear time (with
``[0-9]+\\.?[0-9]*`` a million digits and an ``x`` took hours)."""
EPSILON = 1e-15
"""testlib's ``doubleCompare`` widens every tolerance by this much."""

CheckVerdict = Literal[
    "accepted", "partial", "wrong_answer", "presentation_error", "internal_error"]
Builtin = BuiltinChecker
TokenRule = Callable[[str, str], str | None]
"""Compares an expected token with the output's: None when they match, else why not."""


@dataclass(frozen=True)
class CheckOutcome:
    """What a checker decided about one test's output."""

    verdict: CheckVerdict
    message: str = ""
    diff: Diff | None = None
    points: float | None = None
    """For ``partial`` only: the points the checker gave (a custom checker's)."""


def check(checker: Builtin, expected: str, got: str) -> CheckOutcome:
    """Judge ``got`` against ``expected`` with a built-in checker."""
    match checker:
        case ExactChecker():
            return exact(expected, got)
        case LinesChecker():
            return lines(expected, got)
        case LineTokensChecker():
            return line_tokens(expected, got)
        case TokensChecker(ignore_case=ignore_case):
            return tokens(expected, got, ignore_case)
        case FloatChecker(absolute=absolute, relative=relative):
            return floats(expected, got, absolute, relative)
        case UnorderedChecker():
            return unordered(expected, got)
        case AnyOutputChecker():
            return CheckOutcome("accepted")
        case _:
            assert_never(checker)


def exact(expected: str, got: str) -> CheckOutcome:
    if expected == got:
        return CheckOutcome("accepted")
    diff = first_difference(expected, got)
    where = f"line {diff.line}, column {diff.column}" if diff else "output"
    return _layout_or_wrong(expected, got, diff, f"{where} differs")


def lines(expected: str, got: str) -> CheckOutcome:
    """Judge0's rule: trailing whitespace off each line, then off the whole."""
    wanted, found = judge0_form(expected), judge0_form(got)
    if wanted == found:
        return CheckOutcome("accepted")
    return _by_line(expected, got, (wanted, found), operator.eq, _char_offsets)


def tokens(expected: str, got: str, ignore_case: bool = False) -> CheckOutcome:
    wanted, found = squeezed(expected), squeezed(got)
    if ignore_case:
        wanted, found = wanted.casefold(), found.casefold()
    if wanted == found:
        return _all_tokens(wanted)
    return _compare_tokens(expected, got, _same_folded if ignore_case else _same_token)


def floats(expected: str, got: str, absolute: float, relative: float) -> CheckOutcome:
    def rule(wanted: str, found: str) -> str | None:
        return _same_number(wanted, found, absolute, relative)

    wanted = squeezed(expected)
    if wanted == squeezed(got):
        return _all_tokens(wanted)
    return _compare_tokens(expected, got, rule)


def squeezed(text: str) -> str:
    """The text's tokens, one space apart: equal for two texts exactly when their tokens are.
    The regular expression engine does this at C speed; token by token, Python is ~10 times
    slower (docs/judging.md, Speed)."""
    return _SPACES.sub(" ", text).strip(" ")


def _all_tokens(text: str) -> CheckOutcome:
    return CheckOutcome("accepted", f"{text.count(' ') + 1 if text else 0} tokens")


def line_tokens(expected: str, got: str) -> CheckOutcome:
    """testlib's ``lcmp``: each line as its tokens; trailing blank lines ignored."""
    texts = expected.rstrip(WHITESPACE), got.rstrip(WHITESPACE)
    return _by_line(expected, got, texts, _same_line_tokens, _token_offsets)


def unordered(expected: str, got: str) -> CheckOutcome:
    """The same multiset of lines, each line as its tokens; blank lines ignored."""
    wanted, found = _line_counts(expected), _line_counts(got)
    if wanted == found:
        return CheckOutcome("accepted", f"{sum(wanted.values())} lines")
    for line, count in wanted.items():
        if found[line] < count:
            return _wrong(f"line {shown(' '.join(line))} expected {count} times, "
                          f"found {found[line]}")
    line, count = next((line, n) for line, n in found.items() if n > wanted[line])
    return _wrong(f"line {shown(' '.join(line))} found {count} times, "
                  f"expected {wanted[line]}")


# --- token comparison -------------------------------------------------------------------------


def _compare_tokens(expected: str, got: str, rule: TokenRule) -> CheckOutcome:
    """Token by token, stopping at the first that does not match (never a list of all)."""
    count = 0
    for count, (wanted, found) in enumerate(
            zip_longest(_TOKEN.finditer(expected), _TOKEN.finditer(got)), start=1):
        if wanted is None and found is not None:
            return _wrong(f"extra output from token {count}: {shown(found.group())}",
                          diff_at(expected, len(expected), got, found.start()))
        if found is None and wanted is not None:
            return _wrong(f"output ended after {count - 1} tokens; expected "
                          f"{shown(wanted.group())}", diff_at(expected, wanted.start(), got,
                                                              len(got)))
        if wanted is not None and found is not None:
            why = rule(wanted.group(), found.group())
            if why is not None:
                return _wrong(f"token {count}: {why}",
                              diff_at(expected, wanted.start(), got, found.start()))
    return CheckOutcome("accepted", f"{count} tokens")


def _same_token(wanted: str, found: str) -> str | None:
    return None if wanted == found else f"expected {shown(wanted)}, found {shown(found)}"


def _same_folded(wanted: str, found: str) -> str | None:
    if wanted.casefold() == found.casefold():
        return None
    return f"expected {shown(wanted)}, found {shown(found)} (case ignored)"


def _same_number(wanted: str, found: str, absolute: float, relative: float) -> str | None:
    if not _NUMBER.fullmatch(wanted):
        return _same_token(wanted, found)
    if not _NUMBER.fullmatch(found):
        return f"expected a number like {shown(wanted)}, found {shown(found)}"
    want, have = float(wanted), float(found)
    if within(want, have, absolute, relative):
        return None
    return f"expected {shown(wanted)}, found {shown(found)}, error {error(want, have):.3g}"


def within(expected: float, found: float, absolute: float, relative: float) -> bool:
    """testlib's ``doubleCompare``, with the absolute and the relative error apart."""
    if math.isnan(expected):
        return math.isnan(found)
    if math.isinf(expected):
        return found == expected
    if math.isnan(found) or math.isinf(found):
        return False
    if abs(found - expected) <= absolute + EPSILON:
        return True
    low, high = sorted((expected * (1 - relative - EPSILON), expected * (1 + relative + EPSILON)))
    return low <= found <= high


def error(expected: float, found: float) -> float:
    """testlib's ``doubleDelta``: the smaller of the absolute and the relative error."""
    absolute = abs(found - expected)
    return min(absolute, abs(absolute / expected)) if abs(expected) > 1e-9 else absolute


def same_tokens(expected: str, got: str) -> bool:
    return squeezed(expected) == squeezed(got)


# --- lines ------------------------------------------------------------------------------------


Line = tuple[int, str]
"""A line's offset in its text, and the line (without its newline)."""
LineRule = Callable[[str, str], bool]
Offsets = Callable[[str, str], tuple[int, int]]
"""Where two different lines first differ: an offset into each."""


def _by_line(expected: str, got: str, texts: tuple[str, str], same: LineRule,
             offsets: Offsets) -> CheckOutcome:
    """Line by line through ``texts`` (the outputs in the checker's normal form), stopping at
    the first pair of lines that are not ``same``; diffs point into ``texts``."""
    wanted, found = _split(texts[0]), _split(texts[1])
    for number, (line_wanted, line_found) in enumerate(zip_longest(wanted, found), start=1):
        if line_wanted is None or line_found is None or not same(line_wanted[1], line_found[1]):
            diff = _line_diff(texts, line_wanted, line_found, offsets)
            return _layout_or_wrong(expected, got, diff,
                                    _line_difference(number, line_wanted, line_found))
    return CheckOutcome("accepted", f"{len(wanted)} lines")


def _split(text: str) -> list[Line]:
    """Lines with their offsets; none for an empty text."""
    found: list[Line] = []
    offset = 0
    for line in text.split("\n") if text else ():
        found.append((offset, line))
        offset += len(line) + 1
    return found


def _line_diff(texts: tuple[str, str], wanted: Line | None, found: Line | None,
               offsets: Offsets) -> Diff:
    """At the first difference of two lines, or at the end of the text that has no line."""
    inside = offsets(wanted[1], found[1]) if wanted and found else (0, 0)
    want_at = wanted[0] + inside[0] if wanted else len(texts[0])
    found_at = found[0] + inside[1] if found else len(texts[1])
    return diff_at(texts[0], want_at, texts[1], found_at)


def _char_offsets(wanted: str, found: str) -> tuple[int, int]:
    index = common_prefix(wanted, found)
    return index, index


def _token_offsets(wanted: str, found: str) -> tuple[int, int]:
    for want, have in zip_longest(_TOKEN.finditer(wanted), _TOKEN.finditer(found)):
        if want is None or have is None or want.group() != have.group():
            return (want.start() if want else len(wanted)), (have.start() if have else len(found))
    return 0, 0


def _same_line_tokens(wanted: str, found: str) -> bool:
    return _TOKEN.findall(wanted) == _TOKEN.findall(found)


def _line_difference(number: int, wanted: Line | None, found: Line | None) -> str:
    if found is None:
        return f"output ended before line {number}: expected {shown(wanted[1] if wanted else '')}"
    if wanted is None:
        return f"extra line {number}: {shown(found[1])}"
    return f"line {number}: expected {shown(wanted[1])}, found {shown(found[1])}"


def _line_counts(text: str) -> Counter[tuple[str, ...]]:
    return Counter(words for words in (tuple(_TOKEN.findall(line)) for line in text.split("\n"))
                   if words)


# --- verdicts ---------------------------------------------------------------------------------


def _layout_or_wrong(expected: str, got: str, diff: Diff | None, why: str) -> CheckOutcome:
    """``presentation_error`` when the same tokens are there, laid out otherwise."""
    if same_tokens(expected, got):
        return CheckOutcome("presentation_error",
                            cut(f"same tokens, other whitespace: {why}", MAX_MESSAGE), diff)
    return _wrong(why, diff)


def _wrong(why: str, diff: Diff | None = None) -> CheckOutcome:
    return CheckOutcome("wrong_answer", cut(why, MAX_MESSAGE), diff)

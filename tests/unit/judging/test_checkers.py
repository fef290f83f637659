"""Each built-in checker: what it accepts, what it refuses, with which verdict and message."""

from __future__ import annotations

import pytest

from contracts.judging import (
    Diff,
    ExactChecker,
    FloatChecker,
    LinesChecker,
    LineTokensChecker,
    TokensChecker,
    UnorderedChecker,
)
from runners.judging.checkers import (
    Builtin,
    check,
    error,
    within,
)

EXACT, LINES, LINE_TOKENS = ExactChecker(), LinesChecker(), LineTokensChecker()
TOKENS, FOLDED = TokensChecker(), TokensChecker(ignore_case=True)
FLOAT, UNORDERED = FloatChecker(absolute=1e-6, relative=1e-6), UnorderedChecker()


@pytest.mark.parametrize(("checker", "expected", "got"), [
    (EXACT, "1 2\n3\n", "1 2\n3\n"),
    (LINES, "1 2\n3\n", "1 2  \n3"),
    (LINES, "1 2\n3", "1 2\r\n3\r\n\n\n"),
    (LINE_TOKENS, "1 2\n3\n", "  1\t 2 \n3\n\n  \n"),
    (TOKENS, "1 2\n3\n", "1\n2 3"),
    (FOLDED, "Yes NO", "yes\nno"),
    (FLOAT, "0.5 1e6 YES", "0.5000004 1000000.9 YES"),
    (FLOAT, "0", "-0.0000009"),
    (UNORDERED, "a b\nc\n", "\nc\n a  b\n"),
    (UNORDERED, "", "\n \n"),
])
def test_equal_modulo_the_rule_is_accepted(checker: Builtin, expected: str, got: str) -> None:
    assert check(checker, expected, got).verdict == "accepted"


@pytest.mark.parametrize(("checker", "expected", "got", "message"), [
    (EXACT, "1 2\n3\n", "1 2\n4\n", "line 2, column 1 differs"),
    (LINES, "1 2\n3\n", "1 2\n3\n4", "extra line 3: '4'"),
    (LINES, "a\nb", "a\nc", "line 2: expected 'b', found 'c'"),
    (LINES, "a", "", "output ended before line 1: expected 'a'"),
    (LINE_TOKENS, "1 2\n3\n", "1 2\n", "output ended before line 2: expected '3'"),
    (LINE_TOKENS, "1 2\n", "1 2\n3", "extra line 2: '3'"),
    (LINE_TOKENS, "1 2\n", "1 3\n", "line 1: expected '1 2', found '1 3'"),
    (TOKENS, "1 2 3", "1 2 4", "token 3: expected '3', found '4'"),
    (TOKENS, "1 2 3", "1 2", "output ended after 2 tokens; expected '3'"),
    (TOKENS, "1 2", "1 2 3", "extra output from token 3: '3'"),
    (TOKENS, "Yes", "yes", "token 1: expected 'Yes', found 'yes'"),
    (FOLDED, "Yes", "yeah", "token 1: expected 'Yes', found 'yeah' (case ignored)"),
    (FOLDED, "Yes 1", "YES 2", "token 2: expected '1', found '2' (case ignored)"),
    (FLOAT, "0.5", "0.6", "token 1: expected '0.5', found '0.6', error 0.1"),
    (FLOAT, "0.5", "abc", "token 1: expected a number like '0.5', found 'abc'"),
    (FLOAT, "0.5", "nan", "token 1: expected a number like '0.5', found 'nan'"),
    (FLOAT, "YES 1", "NO 1", "token 1: expected 'YES', found 'NO'"),
    (UNORDERED, "a\nb\nb\n", "b\na\n", "line 'b' expected 2 times, found 1"),
    (UNORDERED, "a\n", "a\nc\n", "line 'c' found 1 times, expected 0"),
])
def test_a_different_answer_is_wrong_with_a_message(checker: Builtin, expected: str, got: str,
                                                    message: str) -> None:
    outcome = check(checker, expected, got)
    assert (outcome.verdict, outcome.message) == ("wrong_answer", message)


@pytest.mark.parametrize(("checker", "expected", "got"), [
    (EXACT, "1 2\n", "1 2"),
    (EXACT, "1 2\n", "1  2\n"),
    (EXACT, "1\n2\n", "1\r\n2\r\n"),
    (LINES, "1 2\n", "1  2\n"),
    (LINES, "1 2\n", "1\n2\n"),
    (LINES, "a\n\nb", "a\nb"),
    (LINE_TOKENS, "1 2\n3\n", "1\n2 3\n"),
])
def test_the_same_tokens_laid_out_otherwise_are_a_presentation_error(
        checker: Builtin, expected: str, got: str) -> None:
    outcome = check(checker, expected, got)
    assert outcome.verdict == "presentation_error"
    assert outcome.message.startswith("same tokens, other whitespace: ")


@pytest.mark.parametrize(("checker", "expected", "got"), [
    (TOKENS, "1 2\n", "1\n\n2"), (FOLDED, "a b", "A\tB"), (FLOAT, "1.0 2", "1\n2.0000001"),
    (UNORDERED, "a b\n", "a  b  \n"),
])
def test_checkers_that_ignore_whitespace_never_give_presentation_error(
        checker: Builtin, expected: str, got: str) -> None:
    assert check(checker, expected, got).verdict == "accepted"


@pytest.mark.parametrize(("checker", "got", "diff"), [
    (EXACT, "1 2\n3 5\n", Diff(2, 3, "3 4\\n", "3 5\\n")),
    (LINES, "1 2   \n3 5\n", Diff(2, 3, "3 4", "3 5")),
    (LINE_TOKENS, "1  2\n3   5\n", Diff(2, 5, "3 4", "3   5")),
    (TOKENS, "1 2 3\n5\n", Diff(2, 1, "3 4\\n", "5\\n")),
    (FLOAT, "1\n2 3 5", Diff(2, 5, "3 4\\n", "2 3 5")),
])
def test_the_diff_points_at_the_first_difference_in_the_output(checker: Builtin, got: str,
                                                                diff: Diff) -> None:
    assert check(checker, "1 2\n3 4\n", got).diff == diff


def test_a_wrong_line_count_points_at_the_end_of_the_shorter_output() -> None:
    assert check(TOKENS, "1 2 3", "1 2").diff == Diff(1, 4, "1 2 3", "1 2")
    assert check(LINE_TOKENS, "1\n2\n", "1\n").diff == Diff(1, 2, "2", "1")


def test_unordered_never_gives_a_diff() -> None:
    assert check(UNORDERED, "a\nb\n", "a\nc\n").diff is None


@pytest.mark.parametrize(("expected", "found", "absolute", "relative", "verdict"), [
    (1.0, 1.0 + 1e-6, 1e-6, 0.0, True),
    (1.0, 1.0 + 2e-6, 1e-6, 0.0, False),
    (1e9, 1e9 + 900, 0.0, 1e-6, True),
    (1e9, 1e9 + 1100, 0.0, 1e-6, False),
    (-1e9, -1e9 - 900, 0.0, 1e-6, True),
    (0.0, 1e-7, 0.0, 1e-6, False),
    (float("inf"), float("inf"), 0.1, 0.1, True),
    (float("inf"), 1e308, 0.1, 0.1, False),
    (1.0, float("inf"), 0.1, 0.1, False),
    (float("nan"), float("nan"), 0.1, 0.1, True),
    (1.0, float("nan"), 0.1, 0.1, False),
])
def test_within_is_testlibs_double_compare(expected: float, found: float, absolute: float,
                                           relative: float, verdict: bool) -> None:
    assert within(expected, found, absolute, relative) is verdict


def test_error_is_testlibs_double_delta() -> None:
    assert error(100.0, 101.0) == pytest.approx(0.01)
    assert error(0.5, 0.7) == pytest.approx(0.2)
    assert error(0.0, 0.25) == 0.25


def test_a_huge_number_overflowing_to_infinity_is_wrong_not_a_crash() -> None:
    assert check(FLOAT, "1", "1e999").verdict == "wrong_answer"


def test_messages_stay_short_whatever_the_tokens() -> None:
    outcome = check(TOKENS, "a" * 10_000, "b" * 10_000)
    assert outcome.message == f"token 1: expected '{'a' * 39}…', found '{'b' * 39}…'"
    assert outcome.diff == Diff(1, 1, "a" * 50 + "…", "b" * 50 + "…")


@pytest.mark.parametrize("number", ["1", "-1.", ".5", "+1e5", "1.5E-3", "-0.0", "007"])
def test_float_reads_numbers_as_testlib_does(number: str) -> None:
    assert check(FLOAT, "42", number).message.startswith("token 1: expected '42', found")


@pytest.mark.parametrize("token", [".", "e5", "1e", "--1", "1.2.3", "inf", "nan", "0x1", "1_0"])
def test_float_refuses_what_testlib_does_not_read_as_a_number(token: str) -> None:
    assert check(FLOAT, "0", token).message.startswith("token 1: expected a number like '0'")


def test_a_long_token_that_is_not_a_number_is_refused_in_linear_time() -> None:
    """A million digits and an ``x``: a backtracking number pattern would take hours (the
    per-test timeout catches that)."""
    assert check(FLOAT, "1", "1" * 1_000_000 + "x").verdict == "wrong_answer"

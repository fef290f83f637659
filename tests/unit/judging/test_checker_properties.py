"""Properties of the built-in checkers over generated outputs: each accepts whatever equals the
expected output modulo its rule, and refuses a changed token."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.judging import (
    ExactChecker,
    FloatChecker,
    LinesChecker,
    LineTokensChecker,
    TokensChecker,
    UnorderedChecker,
)
from runners.judging.checkers import WHITESPACE, Builtin, check
from runners.judging.diff import first_difference

PROPERTY = settings(database=None, deadline=None, max_examples=100)
ALL: list[Builtin] = [
    ExactChecker(), LinesChecker(), LineTokensChecker(), TokensChecker(),
    TokensChecker(ignore_case=True), FloatChecker(), UnorderedChecker()]

token = st.text(st.characters(blacklist_characters=WHITESPACE, blacklist_categories=("Cs",)),
                min_size=1, max_size=8)
ascii_token = st.text(st.sampled_from("abcXYZ019_-"), min_size=1, max_size=8)
line = st.lists(token, max_size=6)
page = st.lists(line, max_size=8)
blank = st.text(st.sampled_from(" \t"), min_size=1, max_size=3)
seeds = st.randoms(use_true_random=False)


def layout(lines: list[list[str]], spaces: str = " ") -> str:
    return "".join(spaces.join(words) + "\n" for words in lines)


def scatter(words: list[str], rng: random.Random) -> str:
    """The words with any whitespace between them, and some around."""
    gaps = [rng.choice([" ", "\t", "\n", "  \r\n", "\n\n", "\x0b", "\x0c"]) for _ in words]
    return rng.choice(["", "\n", " "]) + "".join(
        word + gap for word, gap in zip(words, gaps, strict=True))


@PROPERTY
@given(st.text(max_size=60), st.sampled_from(ALL))
def test_every_checker_accepts_the_expected_output_itself(text: str, checker: Builtin) -> None:
    assert check(checker, text, text).verdict == "accepted"


@PROPERTY
@given(page, st.lists(blank, min_size=8, max_size=8), st.integers(0, 3))
def test_lines_accepts_any_trailing_whitespace(lines: list[list[str]], tails: list[str],
                                               newlines: int) -> None:
    expected = layout(lines)
    got = "".join(" ".join(words) + tail + "\r\n"
                  for words, tail in zip(lines, tails, strict=False)) + "\n" * newlines
    assert check(LinesChecker(), expected, got).verdict == "accepted"


@PROPERTY
@given(page, blank, st.integers(0, 3))
def test_line_tokens_accepts_any_spacing_inside_lines(lines: list[list[str]], spaces: str,
                                                      blank_lines: int) -> None:
    got = layout([[f"{spaces}{word}" for word in words] for words in lines], spaces)
    assert check(LineTokensChecker(), layout(lines), got + " \n" * blank_lines
                 ).verdict == "accepted"


@PROPERTY
@given(page, seeds)
def test_same_tokens_laid_out_otherwise_are_accepted_or_a_presentation_error(
        lines: list[list[str]], rng: random.Random) -> None:
    expected = layout(lines)
    got = scatter([word for words in lines for word in words], rng)
    assert check(TokensChecker(), expected, got).verdict == "accepted"
    for checker in (ExactChecker(), LinesChecker(), LineTokensChecker()):
        assert check(checker, expected, got).verdict in ("accepted", "presentation_error")


@PROPERTY
@given(st.lists(ascii_token, max_size=20), seeds)
def test_tokens_ignoring_case_accepts_any_case(words: list[str], rng: random.Random) -> None:
    changed = ["".join(rng.choice([ch.upper(), ch.lower()]) for ch in word) for word in words]
    assert check(TokensChecker(ignore_case=True), " ".join(words), "\n".join(changed)
                 ).verdict == "accepted"


@PROPERTY
@given(page, seeds)
def test_unordered_accepts_any_order_of_lines(lines: list[list[str]], rng: random.Random
                                              ) -> None:
    shuffled = lines[:]
    rng.shuffle(shuffled)
    assert check(UnorderedChecker(), layout(lines), layout(shuffled, "  ")).verdict == "accepted"


numbers = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=10)
tolerances = st.sampled_from([(1e-6, 0.0), (0.0, 1e-6), (1e-4, 1e-9), (1e-9, 1e-3)])


@PROPERTY
@given(numbers, tolerances, st.lists(st.floats(-0.9, 0.9), min_size=10, max_size=10))
def test_float_accepts_any_error_within_tolerance(values: list[float],
                                                  tolerance: tuple[float, float],
                                                  shares: list[float]) -> None:
    absolute, relative = tolerance
    near = [value + share * max(absolute, relative * abs(value))
            for value, share in zip(values, shares, strict=False)]
    checker = FloatChecker(absolute=absolute, relative=relative)
    assert check(checker, " ".join(map(repr, values)), "\n".join(map(repr, near))
                 ).verdict == "accepted"


@PROPERTY
@given(numbers, tolerances, st.integers(0, 9), st.sampled_from([-1, 1]))
def test_float_refuses_an_error_beyond_both_tolerances(values: list[float],
                                                      tolerance: tuple[float, float],
                                                      which: int, sign: int) -> None:
    absolute, relative = tolerance
    which %= len(values)
    far = values[:]
    far[which] += sign * 2 * (absolute + relative * abs(far[which]) + 1e-9)
    checker = FloatChecker(absolute=absolute, relative=relative)
    outcome = check(checker, " ".join(map(repr, values)), " ".join(map(repr, far)))
    assert outcome.verdict == "wrong_answer"
    assert outcome.message.startswith(f"token {which + 1}: ")


@PROPERTY
@given(page, st.integers(0, 1000), token)
def test_a_changed_token_is_a_wrong_answer_for_every_token_rule(
        lines: list[list[str]], which: int, other: str) -> None:
    words = [word for words in lines for word in words]
    if not words or other == words[which % len(words)]:
        return
    changed = words[:]
    changed[which % len(words)] = other
    for checker in (ExactChecker(), LinesChecker(), TokensChecker(), LineTokensChecker()):
        assert check(checker, " ".join(words), " ".join(changed)).verdict == "wrong_answer"


@PROPERTY
@given(st.text(st.sampled_from("ab \n\t"), max_size=30), st.text(st.sampled_from("ab \n\t"),
                                                                 max_size=30))
def test_the_diff_is_at_the_first_differing_character(expected: str, got: str) -> None:
    diff = first_difference(expected, got)
    if expected == got:
        assert diff is None
        return
    assert diff is not None
    index = sum(len(part) + 1 for part in got.split("\n")[: diff.line - 1]) + diff.column - 1
    assert expected[:index] == got[:index]
    assert expected[index:index + 1] != got[index:index + 1]

"""The diff: where, and excerpts short and readable."""

from __future__ import annotations

from contracts.judging import MAX_EXCERPT, Diff
from runners.judging.diff import common_prefix, escape, excerpt, first_difference, position


def test_equal_texts_have_no_diff() -> None:
    assert first_difference("a\nb\n", "a\nb\n") is None


def test_the_diff_gives_line_and_column_in_the_output_with_both_lines() -> None:
    assert first_difference("ab\ncd\n", "ab\ncx\n") == Diff(2, 2, "cd\\n", "cx\\n")


def test_whitespace_and_control_characters_are_visible() -> None:
    assert first_difference("1\n", "1\r\n") == Diff(1, 2, "1\\n", "1\\r\\n")
    assert escape("a\tb\x00\x7f") == "a\\tb\\x00\\x7f"


def test_an_output_that_ended_shows_its_last_line() -> None:
    assert first_difference("1\n2\n", "1\n") == Diff(2, 1, "2\\n", "")
    assert first_difference("12", "1") == Diff(1, 2, "12", "1")


def test_a_long_line_is_cut_around_the_difference() -> None:
    expected = "x" * 1000 + "A" + "y" * 1000
    got = "x" * 1000 + "B" + "y" * 1000
    diff = first_difference(expected, got)
    assert diff == Diff(1, 1001, "…" + "x" * 30 + "A" + "y" * 49 + "…",
                        "…" + "x" * 30 + "B" + "y" * 49 + "…")


def test_an_excerpt_of_escaped_characters_stays_within_the_bound() -> None:
    shown = excerpt("\x01" * 10_000, 5000)
    assert len(shown) <= MAX_EXCERPT
    assert shown.startswith("…\\x01") and shown.endswith("…")


def test_a_difference_deep_in_a_large_output_is_found() -> None:
    expected = "1 2 3\n" * 200_000
    got = expected[:1_000_000] + "9" + expected[1_000_001:]
    assert common_prefix(expected, got) == 1_000_000
    assert position(got, 1_000_000) == (166_667, 5)

"""Where an output first differs from the expected one, short enough to send and read."""

from __future__ import annotations

from contracts.judging import MAX_EXCERPT, Diff

BEFORE = 30
AFTER = 50
"""Characters of context an excerpt keeps before and after the difference, within its line."""

_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 0x7F)} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def first_difference(expected: str, got: str) -> Diff | None:
    """The first character where ``got`` differs from ``expected``, or None when equal."""
    if expected == got:
        return None
    index = common_prefix(expected, got)
    return diff_at(expected, index, got, index)


def diff_at(expected: str, expected_index: int, got: str, got_index: int) -> Diff:
    """A diff at given places in each text (a token's start, or a text's end)."""
    line, column = position(got, got_index)
    return Diff(line, column, excerpt(expected, expected_index), excerpt(got, got_index))


def common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, by halving: slices compare at C speed, so a
    difference deep in megabytes of output is found in a few dozen comparisons."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]`` (or of the text's end)."""
    line = text.count("\n", 0, index) + 1
    return line, index - text.rfind("\n", 0, index)


def excerpt(text: str, index: int) -> str:
    """The part of ``index``'s line around it (its newline included), escaped; ``…`` marks a
    cut. Empty only for an empty text."""
    line_start = text.rfind("\n", 0, index) + 1
    newline = text.find("\n", index)
    line_end = len(text) if newline < 0 else newline + 1
    start, end = max(line_start, index - BEFORE), min(line_end, index + AFTER)
    shown = escape(text[start:end])
    head = "…" if start > line_start else ""
    tail = "…" if end < line_end else ""
    return cut(head + shown, MAX_EXCERPT - len(tail)) + tail


def escape(text: str) -> str:
    """Control characters made visible (``\\n``, ``\\r``, ``\\t``, ``\\x0b``)."""
    return text.translate(_ESCAPES)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(token: str, limit: int = 40) -> str:
    """A token or line as a message quotes it: escaped, cut, in quotes."""
    return "'" + cut(escape(token), limit) + "'"

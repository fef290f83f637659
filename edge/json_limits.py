"""Checks on untrusted JSON before it is decoded: how deep it nests and how many values it has.

msgspec decodes nested arrays and objects recursively, also where the type expects none (an
unknown field, a tag it has not read yet): ``'[' * 200000`` would end in a RecursionError. So
the text is scanned first, in linear time: strings are skipped whole by the regex engine, and
only the brackets outside them are counted, stopping at the first limit crossed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
"""Far above any request's real nesting (a batch's executions' files' entries: 4)."""
MAX_TOKENS = 50_000
"""Brackets and strings: a batch of 20 executions of 100 files each has about 12,000."""

_TOKENS_TEXT = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}"]', re.DOTALL)
_TOKENS_BYTES = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}"]', re.DOTALL)
_OPEN = frozenset(("[", "{", b"[", b"{"))
_CLOSE = frozenset(("]", "}", b"]", b"}"))


def structure_problem(data: str | bytes) -> str | None:
    """Why ``data`` must not be decoded (it nests deeper than ``MAX_DEPTH`` or has more than
    ``MAX_TOKENS`` strings and brackets), or None. Malformed JSON that is within the limits
    passes: the decoder reports it."""
    tokens: Iterator[re.Match[Any]] = (
        _TOKENS_TEXT.finditer(data) if isinstance(data, str) else _TOKENS_BYTES.finditer(data))
    depth = 0
    for count, match in enumerate(tokens):
        if count >= MAX_TOKENS:
            return f"more than {MAX_TOKENS} values"
        token = match.group()
        if token in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
        elif token in _CLOSE:
            depth -= 1
        elif len(token) == 1:
            return None  # a string that never ends: the decoder says so, before any nesting
    return None

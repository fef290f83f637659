from __future__ import annotations

import json

import pytest

from edge.json_limits import MAX_DEPTH, MAX_TOKENS, structure_problem


@pytest.mark.parametrize("text", [
    "[" * 200_000 + "]" * 200_000,  # issue 17, reproduction 5
    '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
    '{"type":"stop","zzz":' + "[" * 100_000,  # unbalanced, deep inside an unknown field
])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_nesting_deeper_than_the_limit_is_refused(text: str, as_bytes: bool) -> None:
    assert structure_problem(text.encode() if as_bytes else text) == (
        f"nested deeper than {MAX_DEPTH} levels")


def test_too_many_values_are_refused_even_when_flat() -> None:
    assert structure_problem("[" + "[]," * MAX_TOKENS + "[]]") == (
        f"more than {MAX_TOKENS} values")


@pytest.mark.parametrize("text", [
    json.dumps({"type": "execute_code", "files": [{"name": "a.py", "content": "[" * 100_000}]}),
    json.dumps({"s": '\\"[[[[' * 1000}), '"' + '\\"[' * 100_000,  # brackets in strings
    '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH, "", "{", "null", '"\\', "]]]]",
])
def test_brackets_inside_strings_and_malformed_json_within_the_limits_pass(text: str) -> None:
    assert structure_problem(text) is None

"""docs/events.md embeds the completion's JSON Schema: it must stay the one msgspec generates, and
the schema must describe what the platform really puts on ``exec.completed.<executionId>``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from contracts.judging import CaseResult, JudgementEvent, JudgementResult, TestResultEvent
from contracts.messages import (
    CompletionEvent,
    JobLimits,
    NotebookOutputEvent,
    OutputEvent,
    StatusEvent,
    TableEvent,
    encode,
)
from contracts.schemas import completion_event_schema, execution_event_schemas

EVENTS_MD = Path(__file__).resolve().parents[3] / "docs" / "events.md"
MARKER = "<!-- schema:CompletionEvent -->"
REGENERATE = ("docs/events.md is out of date; print the schema with .venv/bin/python -c "
              "'import json; from contracts.schemas import completion_event_schema as s; "
              "print(json.dumps(s(), indent=2))' and paste it after " + MARKER)
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")

FULL = CompletionEvent(
    execution_id="5eeca9c877b445f8b042c988195429bc", verdict="runtime_error", signal="SIGSEGV",
    wall_ms=14, cpu_ms=11, memory_kb=9216, queued_ms=3, language="c", request_id="r1",
)
EVERY_FIELD = msgspec.structs.replace(FULL, exit_code=139, truncated=True, claimed_at=1.5,
                                      webhook=True, notebook_id="nb1", cell_id="c1",
                                      execution_count=3, isolation="gvisor",
                                      message="cannot start ./main: Permission denied",
                                      limits=JobLimits(wall_ms=10_000, cpu_ms=10_000,
                                                       memory_mb=256, output_kb=1024,
                                                       processes=64))
MINIMAL = CompletionEvent(execution_id="0c303e81d55e4e01ace7664a6af5c178", verdict="expired")
EXPIRED = CompletionEvent(execution_id="e1", verdict="expired", queued_ms=60_412,
                          language="python", message="waited longer than QUEUE_TIMEOUT")


def block_after(text: str, marker: str) -> str:
    """The body of the ```json fenced block that follows ``marker``."""
    assert text.count(marker) == 1, f"{marker} must appear exactly once"
    after = text.split(marker, 1)[1]
    match = re.match(r"\s*```json\n(.*?)\n```", after, re.DOTALL)
    assert match, f"no ```json block right after {marker}"
    return match.group(1)


def test_events_doc_embeds_the_generated_completion_schema() -> None:
    embedded = json.loads(block_after(EVENTS_MD.read_text(), MARKER))
    assert embedded == completion_event_schema(), REGENERATE


def test_block_after_finds_the_fenced_json() -> None:
    text = f"intro\n{MARKER}\n```json\n{{\"a\": 1}}\n```\n```json\n{{\"b\": 2}}\n```\n"
    assert json.loads(block_after(text, MARKER)) == {"a": 1}


def test_events_doc_lists_every_completion_field() -> None:
    text = EVENTS_MD.read_text()
    fields = completion_event_schema()["$defs"]["CompletionEvent"]["properties"]
    assert [name for name in fields if f"| `{name}` |" not in text] == []


# --- the schema against real encodings ----------------------------------------------------------

TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def problems(value: Any, schema: dict[str, Any], defs: dict[str, Any], at: str = "$"
             ) -> list[str]:
    """Where ``value`` breaks ``schema``: the subset of JSON Schema msgspec emits for events
    ($ref, anyOf, enum, type, required, properties, items). Enough to catch a renamed field."""
    if "$ref" in schema:
        return problems(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs, at)
    if "anyOf" in schema:
        fits = any(not problems(value, option, defs, at) for option in schema["anyOf"])
        return [] if fits else [f"{at}: matches no anyOf option"]
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{at}: {value!r} not in {schema['enum']}"]
    if not TYPES[schema["type"]](value):
        return [f"{at}: {value!r} is not of type {schema['type']}"]
    if schema["type"] == "array":
        return [p for i, item in enumerate(value)
                for p in problems(item, schema.get("items", {"type": "array"}), defs, f"{at}[{i}]")
                if "items" in schema]
    if schema["type"] == "object":
        return object_problems(value, schema, defs, at)
    return []


def object_problems(value: dict[str, Any], schema: dict[str, Any], defs: dict[str, Any],
                    at: str) -> list[str]:
    if "properties" not in schema:
        return []  # a free-form object (a notebook output's nbformat dict)
    properties = schema["properties"]
    found = [f"{at}: {key} is required" for key in schema.get("required", []) if key not in value]
    found += [f"{at}: {key} is not a property" for key in value if key not in properties]
    for key, item in value.items():
        if key in properties:
            found += problems(item, properties[key], defs, f"{at}.{key}")
    return found


def check(payload: bytes, schema: dict[str, Any]) -> list[str]:
    return problems(msgspec.json.decode(payload), schema, schema.get("$defs", {}))


@pytest.mark.parametrize("event", [FULL, EVERY_FIELD, MINIMAL, EXPIRED],
                         ids=["full", "every-field", "minimal", "expired"])
def test_encoded_completions_fit_the_schema(event: CompletionEvent) -> None:
    assert check(encode(event), completion_event_schema()) == []


def test_the_schema_checker_sees_a_wrong_payload() -> None:
    schema = completion_event_schema()
    assert check(b'{"type":"completion","verdict":"ok"}', schema) == [
        "$: executionId is required"]
    assert check(b'{"type":"completion","executionId":"e","verdict":"fine","wall_ms":1}',
                 schema) == ["$: wall_ms is not a property", "$.verdict: 'fine' not in " +
                             str(schema["$defs"]["CompletionEvent"]["properties"]["verdict"]
                                 ["enum"])]


def test_completion_properties_are_camel_case_and_the_wire_uses_them() -> None:
    definition = completion_event_schema()["$defs"]["CompletionEvent"]
    names = list(definition["properties"])
    assert [name for name in names if not CAMEL.match(name)] == []
    assert definition["required"] == ["type", "executionId", "verdict"]
    assert set(msgspec.json.decode(encode(EVERY_FIELD))) == set(names)


def test_defaults_are_left_out_of_the_wire_and_named_in_the_schema() -> None:
    properties = completion_event_schema()["$defs"]["CompletionEvent"]["properties"]
    sent = msgspec.json.decode(encode(MINIMAL))
    assert sent == {"type": "completion", "executionId": MINIMAL.execution_id,
                    "verdict": "expired"}
    assert {name for name in properties if name not in sent} == {
        name for name, prop in properties.items() if "default" in prop}


def test_execution_event_schemas_cover_the_seven_events() -> None:
    schema = execution_event_schemas()
    assert set(schema["discriminator"]["mapping"]) == {
        "status", "output", "table", "notebook_output", "completion", "test", "judgement"}
    assert schema["$defs"]["CompletionEvent"] == (
        completion_event_schema()["$defs"]["CompletionEvent"])
    events = [StatusEvent("e1", "running", "r1"), OutputEvent("e1", "stdout", "hi\n"),
              TableEvent("e1", ["id", "name"], [[1, "tea"], [2, None]]),
              NotebookOutputEvent("e1", "nb1", "c1", {"output_type": "stream", "name": "stdout",
                                                      "text": "hi\n"}), FULL,
              TestResultEvent("e1", CaseResult("1", "accepted", time_ms=3)),
              JudgementEvent("e1", JudgementResult("e1", "accepted", 1, 1, 1.0, 1.0, []))]
    assert [check(encode(event), schema) for event in events] == [[]] * 7


def test_a_full_json_schema_validator_accepts_the_encodings() -> None:
    validator = jsonschema_rs.validator_for(execution_event_schemas())
    for event in (FULL, MINIMAL, EXPIRED, OutputEvent("e1", "stderr", "x")):
        assert validator.is_valid(msgspec.json.decode(encode(event)))
    assert not validator.is_valid({"type": "completion", "executionId": "e1", "verdict": "meh"})

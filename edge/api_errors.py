"""The HTTP API's error messages in one style (docs/api.md, Errors): a lower-case sentence
without a final full stop that names what is wrong; invalid JSON says where (line, column)."""

from __future__ import annotations

import re

import msgspec

_BYTE = re.compile(r"\s*\(byte (\d+)\)$")


def house_style(message: str) -> str:
    """``message`` in the API's style: "The queue is full." becomes "the queue is full"; a
    leading acronym ("API key …") stays as it is."""
    text = message.strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def decode_problem(body: bytes, error: msgspec.DecodeError) -> str:
    """Why ``body`` could not be decoded: where the JSON breaks (line and column, from 1), or
    which field does not fit (msgspec names it: ``$.files[0].name``)."""
    text = str(error)
    if not body.strip():
        return "the body is empty; send a JSON object"
    if text == "Input data was truncated":
        return f"the body is not valid JSON: it ends early, at {line_and_column(body, len(body))}"
    if (found := _BYTE.search(text)) is not None:
        reason = text[:found.start()].removeprefix("JSON is malformed: ")
        offset = int(found.group(1))
        if reason == "trailing characters":  # msgspec counts the first one read
            offset -= 1
        where = line_and_column(body, offset)
        return f"the body is not valid JSON: {house_style(reason)} at {where}"
    return f"the body is not valid: {house_style(text)}"


def line_and_column(body: bytes, offset: int) -> str:
    """Byte ``offset`` of ``body`` as "line L, column C" (characters, counted from 1)."""
    before = body[:offset]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
    return f"line {line}, column {column}"

"""Error messages in one style, and invalid JSON located by line and column."""

from __future__ import annotations

import msgspec
import pytest

from contracts.api import execution_request_decoder
from edge.api import ApiProblem
from edge.api_errors import decode_problem, house_style
from edge.auth import AuthError
from edge.nats_connection import NotReady, QueueFull


def problem_of(body: bytes) -> str:
    with pytest.raises(msgspec.DecodeError) as failed:
        execution_request_decoder.decode(body)
    return decode_problem(body, failed.value)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"language": "python",\n  "files": [}',
     "the body is not valid JSON: invalid character at line 2, column 13"),
    ('{"language": "python",\n\n "stdin": "é", "files": [{"name": "m",, "content": ""}]}'
     .encode(), "the body is not valid JSON: object keys must be strings at line 3, column 39"),
    (b'{"language": "py', "the body is not valid JSON: it ends early, at line 1, column 17"),
    (b'{"language": "python", "mainFile": "m", "files": [{"name": "m", "content": ""}]} x',
     "the body is not valid JSON: trailing characters at line 1, column 82"),
    (b"  \n", "the body is empty; send a JSON object"),
    (b'{"language": 1}', "the body is not valid: expected `str`, got `int` - at `$.language`"),
])
def test_invalid_json_says_where(body: bytes, message: str) -> None:
    assert problem_of(body) == message


@pytest.mark.parametrize(("raw", "styled"), [
    (AuthError.__doc__, "a valid API key is required: send the header Authorization: Bearer "
                        "<key>"),
    (QueueFull.__doc__, "the queue is at capacity; try again later"),
    (NotReady.__doc__, "the platform is not ready: no dispatcher has created the queue yet"),
    ("API keys differ.", "API keys differ"),
    ("no execution 'x' for this caller", "no execution 'x' for this caller"),
])
def test_every_problem_message_is_in_the_house_style(raw: str | None, styled: str) -> None:
    assert house_style(raw or "") == styled
    assert ApiProblem(400, "x", raw or "").message == styled

from __future__ import annotations

import msgspec
import pytest

from contracts.api import (
    MAX_BATCH,
    MAX_CALLBACK_URL,
    BatchRequest,
    ExecutionRequest,
    batch_request_decoder,
    execution_request_decoder,
)
from contracts.messages import Limits, SourceFile


def request(**extra: object) -> dict[str, object]:
    return {
        "language": "python",
        "files": [{"name": "main.py", "content": "print(1)"}],
        "mainFile": "main.py",
        **extra,
    }


def test_an_execution_request_with_camel_case_fields_decodes() -> None:
    body = request(requestId="r-1", stdin="in", args=["a", "b"], limits={"wallMs": 500},
                   callbackUrl="https://example.com/hook", background=True)
    spec = execution_request_decoder.decode(msgspec.json.encode(body))
    assert spec == ExecutionRequest(
        language="python", files=[SourceFile("main.py", "print(1)")], main_file="main.py",
        request_id="r-1", stdin="in", args=["a", "b"], limits=Limits(wall_ms=500),
        callback_url="https://example.com/hook", background=True,
    )


def test_a_minimal_request_takes_the_defaults() -> None:
    spec = execution_request_decoder.decode(msgspec.json.encode(request()))
    assert spec.callback_url is None
    assert spec.background is False
    assert spec.stdin == ""
    assert spec.args == []
    assert spec.limits is None


@pytest.mark.parametrize("extra", [{"priority": 2}, {"main_file": "main.py"}, {"owner": "x"}])
def test_an_unknown_field_is_refused(extra: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        execution_request_decoder.decode(msgspec.json.encode(request(**extra)))


def test_a_request_without_files_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        execution_request_decoder.decode(msgspec.json.encode(request(files=[])))


def test_a_batch_of_up_to_the_limit_decodes() -> None:
    body = {"executions": [request() for _ in range(MAX_BATCH)]}
    batch = batch_request_decoder.decode(msgspec.json.encode(body))
    assert isinstance(batch, BatchRequest)
    assert len(batch.executions) == MAX_BATCH == 20


@pytest.mark.parametrize("size", [0, MAX_BATCH + 1])
def test_an_empty_or_oversized_batch_is_refused(size: int) -> None:
    body = {"executions": [request() for _ in range(size)]}
    with pytest.raises(msgspec.ValidationError):
        batch_request_decoder.decode(msgspec.json.encode(body))


def test_a_batch_with_an_unknown_field_is_refused() -> None:
    body = {"executions": [request()], "wait": True}
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        batch_request_decoder.decode(msgspec.json.encode(body))


def test_a_batch_entry_is_checked_like_a_single_request() -> None:
    body = {"executions": [request(), request(extra=1)]}
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        batch_request_decoder.decode(msgspec.json.encode(body))


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("http://a", True),  # 8 characters: the shortest allowed
        ("http://", False),
        ("", False),
        ("https://example.com/" + "a" * (MAX_CALLBACK_URL - 20), True),
        ("https://example.com/" + "a" * (MAX_CALLBACK_URL - 19), False),
    ],
)
def test_callback_url_length_is_bounded(url: str, valid: bool) -> None:
    data = msgspec.json.encode(request(callbackUrl=url))
    if valid:
        assert execution_request_decoder.decode(data).callback_url == url
    else:
        with pytest.raises(msgspec.ValidationError, match="callbackUrl"):
            execution_request_decoder.decode(data)

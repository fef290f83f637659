"""The workspace routes' bodies: a file PUT is refused past the file limit, not the zip's."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from contracts.workspaces import WORKSPACE_MAX_FILE_BYTES
from edge.api import ApiProblem
from edge.workspace_api import WorkspaceApi

CHUNK = 64 * 1024


class Caller:
    owner = "key:local"


class OneCaller:
    async def caller(self, request: Request) -> Caller:
        return Caller()


def streamed_put(chunks: int) -> tuple[Request, list[int]]:
    """A PUT of ``chunks`` chunks without a Content-Length; the list counts those read."""
    read = [0]

    async def receive() -> dict[str, Any]:
        read[0] += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": read[0] < chunks}

    scope = {"type": "http", "method": "PUT", "headers": [], "path": "/", "query_string": b"",
             "path_params": {"id": "w", "path": "big.bin"}}
    return Request(scope, receive), read


async def test_a_file_put_is_refused_once_past_the_file_limit() -> None:
    api = WorkspaceApi(OneCaller(), None, None)  # type: ignore[arg-type]
    request, read = streamed_put(8 * 1024 * 1024 // CHUNK)
    with pytest.raises(ApiProblem) as refused:
        await api.file(request)
    assert refused.value.status == 413
    assert read[0] == WORKSPACE_MAX_FILE_BYTES // CHUNK + 1

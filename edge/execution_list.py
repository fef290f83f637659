"""``GET /api/v1/executions``: which of a key's executions a page shows (docs/api.md).

A page is the newest executions after its cursor, filtered by language (from the records, at
no cost) and by status (read per execution, so a page looks at ``MAX_SCANNED`` executions at
most: a rare status may give a short page with a ``nextCursor`` to go on from).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import get_args

from contracts.api import ApiStatus, ExecutionList, ExecutionResult
from contracts.messages import ExecutionRecord
from contracts.runtimes import Catalog
from edge.execution_records import position

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_SCANNED = 200
"""Executions a page reads the status of, at most."""
PARAMETERS = ("limit", "cursor", "status", "language")
STATUSES: tuple[str, ...] = get_args(ApiStatus)
_CURSOR = re.compile(r"([0-9]{1,16})\.([0-9a-f]{32})")


class QueryProblem(Exception):
    """A query parameter the list does not take (``code`` and ``message`` for a 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ListQuery:
    limit: int = DEFAULT_LIMIT
    status: str | None = None
    language: str | None = None
    """A catalog name (an alias is read as its language)."""
    after: tuple[int, str] | None = None
    """The cursor: only executions older than this position (``execution_records.position``)."""


def list_query(params: Mapping[str, str], catalog: Catalog) -> ListQuery:
    """The query of ``?limit=&cursor=&status=&language=``; raises QueryProblem."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise QueryProblem("invalid_request", f"unknown query parameter {unknown[0]!r}; "
                           f"this list takes {', '.join(PARAMETERS)}")
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise QueryProblem("invalid_request", f"status must be one of {', '.join(STATUSES)}")
    language = params.get("language")
    if language is not None:
        runtime = catalog.get(language)
        if runtime is None:
            raise QueryProblem("unknown_language", f"unknown language {language!r}; this "
                               f"installation runs: {', '.join(catalog.names())}")
        language = runtime.name
    return ListQuery(limit_of(params.get("limit")), status, language,
                     cursor_position(params.get("cursor")))


def limit_of(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise QueryProblem("invalid_request", f"limit must be a whole number from 1 to "
                           f"{MAX_LIMIT}")
    return int(raw)


def cursor_position(raw: str | None) -> tuple[int, str] | None:
    if raw is None:
        return None
    found = _CURSOR.fullmatch(raw)
    if found is None:
        raise QueryProblem("invalid_request", "cursor must be a nextCursor this list gave")
    return int(found.group(1)), found.group(2)


def cursor_of(record: ExecutionRecord) -> str:
    milliseconds, execution_id = position(record)
    return f"{milliseconds}.{execution_id}"


async def page_of(records: list[ExecutionRecord], query: ListQuery,
                  read: Callable[[ExecutionRecord], Awaitable[ExecutionResult]]
                  ) -> ExecutionList:
    """The page ``query`` asks for of ``records`` (newest first), each read by ``read`` (a
    batch of ``limit`` at a time, at once)."""
    candidates = [r for r in records
                  if query.language in (None, r.language)
                  and (query.after is None or position(r) < query.after)]
    scanned = candidates[:MAX_SCANNED]
    page: list[ExecutionResult] = []
    last: ExecutionRecord | None = None
    for start in range(0, len(scanned), query.limit):
        batch = scanned[start:start + query.limit]
        for record, result in zip(batch, await asyncio.gather(*map(read, batch)), strict=True):
            last = record
            if query.status in (None, result.status):
                page.append(result)
                if len(page) == query.limit:
                    break
        if len(page) == query.limit:
            break
    more = last is not None and last is not candidates[-1]
    return ExecutionList(page, cursor_of(last) if more and last else None)

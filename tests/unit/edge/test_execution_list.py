"""GET /api/v1/executions: the query it takes and the pages it answers, over fake reads."""

from __future__ import annotations

import pytest

from contracts.api import ExecutionResult
from contracts.messages import ExecutionRecord
from contracts.runtimes import Catalog, Runtime
from edge.execution_list import (
    MAX_SCANNED,
    ListQuery,
    QueryProblem,
    cursor_of,
    list_query,
    page_of,
)

CATALOG = Catalog([
    Runtime(name="python", display_name="Python", extension=".py", image="python",
            run=["python3", "{main}"], aliases=["py"]),
    Runtime(name="c", display_name="C", extension=".c", image="gcc", run=["./main"]),
])


def record(n: int, language: str = "python") -> ExecutionRecord:
    return ExecutionRecord(f"{n:032x}", "key:alice", language, 1_700_000_000 + n)


def newest_first(records: list[ExecutionRecord]) -> list[ExecutionRecord]:
    return sorted(records, key=lambda r: r.submitted_at, reverse=True)


def reader(statuses: dict[str, str]):  # type: ignore[no-untyped-def]
    read: list[str] = []

    async def read_one(r: ExecutionRecord) -> ExecutionResult:
        read.append(r.execution_id)
        return ExecutionResult(r.execution_id, statuses.get(r.execution_id, "completed"),  # type: ignore[arg-type]
                               r.language, r.submitted_at)

    return read_one, read


def ids(results: list[ExecutionResult]) -> list[int]:
    return [int(r.id, 16) for r in results]


# --- the query --------------------------------------------------------------------------------


def test_the_query_has_defaults_and_reads_an_alias_as_its_language() -> None:
    assert list_query({}, CATALOG) == ListQuery(20, None, None, None)
    cursor = cursor_of(record(7))
    query = list_query({"limit": "5", "status": "running", "language": "py", "cursor": cursor},
                       CATALOG)
    assert query == ListQuery(5, "running", "python", (1_700_000_007_000, f"{7:032x}"))


@pytest.mark.parametrize(("params", "code", "words"), [
    ({"limit": "0"}, "invalid_request", "limit must be a whole number from 1 to 100"),
    ({"limit": "101"}, "invalid_request", "limit must be"),
    ({"limit": "x"}, "invalid_request", "limit must be"),
    ({"status": "done"}, "invalid_request", "status must be one of queued, running, completed"),
    ({"language": "cobol"}, "unknown_language", "this installation runs: c, python"),
    ({"cursor": "abc"}, "invalid_request", "cursor must be a nextCursor this list gave"),
    ({"per_page": "5"}, "invalid_request", "unknown query parameter 'per_page'"),
])
def test_a_query_it_does_not_take_says_which_parameter(
    params: dict[str, str], code: str, words: str,
) -> None:
    with pytest.raises(QueryProblem) as refused:
        list_query(params, CATALOG)
    assert refused.value.code == code
    assert words in refused.value.message


# --- pages ------------------------------------------------------------------------------------


async def test_pages_go_newest_first_and_the_cursors_walk_every_execution_once() -> None:
    records = newest_first([record(n) for n in range(1, 8)])
    read, _ = reader({})
    first = await page_of(records, ListQuery(limit=3), read)
    assert ids(first.executions) == [7, 6, 5]
    assert first.next_cursor == cursor_of(record(5))
    seen = ids(first.executions)
    cursor = first.next_cursor
    while cursor:
        page = await page_of(records, list_query({"limit": "3", "cursor": cursor}, CATALOG),
                             read)
        seen += ids(page.executions)
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]


async def test_the_last_page_has_no_cursor_even_when_it_is_full() -> None:
    records = newest_first([record(n) for n in range(1, 5)])
    read, _ = reader({})
    page = await page_of(records, ListQuery(limit=4), read)
    assert ids(page.executions) == [4, 3, 2, 1]
    assert page.next_cursor is None
    assert (await page_of([], ListQuery(), read)).executions == []


async def test_filters_keep_only_that_language_and_status() -> None:
    records = newest_first([record(1), record(2, "c"), record(3), record(4, "c"), record(5)])
    read, _ = reader({f"{3:032x}": "running", f"{5:032x}": "queued"})
    assert ids((await page_of(records, ListQuery(language="c"), read)).executions) == [4, 2]
    page = await page_of(records, ListQuery(status="completed", language="python"), read)
    assert ids(page.executions) == [1]
    page = await page_of(records, ListQuery(limit=1, status="running"), read)
    assert ids(page.executions) == [3]
    assert page.next_cursor == cursor_of(record(3))


async def test_a_rare_status_gives_a_short_page_after_max_scanned_reads() -> None:
    records = newest_first([record(n) for n in range(1, MAX_SCANNED + 11)])
    oldest = f"{1:032x}"
    read, reads = reader({oldest: "running"})
    page = await page_of(records, ListQuery(limit=5, status="running"), read)
    assert page.executions == []
    assert len(reads) == MAX_SCANNED
    assert page.next_cursor == cursor_of(records[MAX_SCANNED - 1])
    rest = await page_of(records, list_query(
        {"limit": "5", "status": "running", "cursor": page.next_cursor}, CATALOG), read)
    assert ids(rest.executions) == [1]
    assert rest.next_cursor is None

"""A stored problem's tests fetched by hash (runners/judge_tests.py) and a judgement's result
made to fit one NATS message (runners/judging/fit.py), with an in-memory store."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest

from contracts.judging import Case, CaseResult, Diff, JudgementResult, StoredCase
from runners.bus import RunnerBus
from runners.judge_tests import FETCHES_AT_ONCE, TestsUnavailable, names_only, resolved
from runners.judging.fit import fit_judgement


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    def __init__(self, *texts: str) -> None:
        self.objects = {sha(t): t.encode() for t in texts}
        self.asked: list[str] = []

    async def fetch(self, sha256: str) -> bytes | None:
        self.asked.append(sha256)
        return self.objects.get(sha256)


async def test_a_large_problem_is_fetched_a_bounded_number_of_objects_at_once() -> None:
    texts = [str(n) for n in range(200)]
    store, running, most = Store(*texts), 0, 0

    async def fetch(sha256: str) -> bytes | None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)
        running -= 1
        return await store.fetch(sha256)

    tests = [StoredCase(t, sha(t), sha(t)) for t in texts]
    assert len(await resolved(tests, fetch)) == 200
    assert most == FETCHES_AT_ONCE


class ObjectStore:
    def __init__(self) -> None:
        self.opened = 0

    async def get_info(self, name: str) -> Any:
        return SimpleNamespace(size=1)

    async def get(self, name: str) -> Any:
        return SimpleNamespace(data=b"x")


async def test_the_runner_opens_the_problems_store_once() -> None:
    store = ObjectStore()

    async def object_store(bucket: str) -> ObjectStore:
        store.opened += 1
        return store

    bus = RunnerBus(cast(Any, None), cast(Any, SimpleNamespace(object_store=object_store)))
    assert [await bus.problem_data(sha(str(n))) for n in range(3)] == [b"x"] * 3
    assert store.opened == 1


async def test_stored_tests_are_fetched_once_each_and_inline_ones_kept() -> None:
    store = Store("1 2\n", "3\n")
    inline = Case("inline", "x", stdin="y")
    tests = [StoredCase("a", sha("1 2\n"), sha("3\n"), points=2), inline,
             StoredCase("b", sha("1 2\n"), sha("3\n"))]
    found = await resolved(tests, store.fetch)
    assert found == [Case("a", "3\n", stdin="1 2\n", points=2), inline,
                     Case("b", "3\n", stdin="1 2\n")]
    assert sorted(store.asked) == sorted({sha("1 2\n"), sha("3\n")})


async def test_a_missing_object_makes_the_tests_unavailable() -> None:
    with pytest.raises(TestsUnavailable, match="1 stored inputs or answers are missing"):
        await resolved([StoredCase("a", sha("in"), sha("gone"))], Store("in").fetch)


async def test_invalid_utf8_is_replaced_not_fatal() -> None:
    store = Store()
    store.objects[sha("x")] = b"\xff\n"
    found = await resolved([StoredCase("a", sha("x"), sha("x"))], store.fetch)
    assert found[0].stdin == "\ufffd\n"


def test_names_only_keeps_names_and_points() -> None:
    assert names_only([StoredCase("a", sha("1"), sha("2"), points=4)]) == [
        Case("a", "", points=4)]


def result(tests: int, message: str = "m" * 300) -> JudgementResult:
    return JudgementResult(
        "id", "wrong_answer", 0, tests, 0.0, float(tests),
        [CaseResult(str(n), "wrong_answer", checker_message=message,
                    diff=Diff(1, 1, "e" * 200, "g" * 200)) for n in range(tests)])


def test_a_small_result_is_stored_whole() -> None:
    whole = result(3)
    assert msgspec.json.decode(fit_judgement(whole, 1_000_000), type=JudgementResult) == whole


def test_a_large_result_loses_diffs_then_messages_but_keeps_every_verdict() -> None:
    big = result(1000)
    no_diffs = fit_judgement(big, 400_000)
    assert len(no_diffs) <= 400_000
    kept = msgspec.json.decode(no_diffs, type=JudgementResult)
    assert all(t.diff is None and t.checker_message for t in kept.tests)
    bare = msgspec.json.decode(fit_judgement(big, 100_000), type=JudgementResult)
    assert [(t.name, t.verdict) for t in bare.tests] == [(t.name, t.verdict) for t in big.tests]
    assert all(t.checker_message == "" for t in bare.tests)

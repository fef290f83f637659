"""A judgement's tests as the judge runs them: inline ones as they came, a stored problem's
fetched by content hash (each object once, however many tests share it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from contracts.judging import Case, StoredCase

Fetch = Callable[[str], Awaitable[bytes | None]]
"""A stored object by its SHA-256, or None when the store does not hold it."""
FETCHES_AT_ONCE = 16
"""Objects fetched at once (a problem may name 2000): NATS and the runner's memory are shared."""


class TestsUnavailable(Exception):
    """A stored test's input or answer is not in the store (removed, or never stored)."""

    __test__ = False  # not a pytest class


async def resolved(tests: Sequence[Case | StoredCase], fetch: Fetch) -> list[Case]:
    """Every test with its input and answer; raises TestsUnavailable."""
    wanted = {h for t in tests if isinstance(t, StoredCase)
              for h in (t.stdin_sha256, t.answer_sha256)}
    hashes = sorted(wanted)
    room = asyncio.Semaphore(FETCHES_AT_ONCE)

    async def fetched(sha256: str) -> bytes | None:
        async with room:
            return await fetch(sha256)

    found = dict(zip(hashes, await asyncio.gather(*(fetched(h) for h in hashes)), strict=True))
    if missing := [h for h, data in found.items() if data is None]:
        raise TestsUnavailable(f"{len(missing)} stored inputs or answers are missing "
                               f"(first {missing[0][:12]}…)")
    texts = {h: (data or b"").decode(errors="replace") for h, data in found.items()}
    return [test if isinstance(test, Case) else Case(
        name=test.name, stdin=texts[test.stdin_sha256],
        expected_output=texts[test.answer_sha256], points=test.points, limits=test.limits)
        for test in tests]


def names_only(tests: Sequence[Case | StoredCase]) -> list[Case]:
    """The tests without their data: enough to score a judgement that could not run."""
    return [Case(name=test.name, expected_output="", points=test.points) for test in tests]

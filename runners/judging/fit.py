"""A judgement's result made to fit one NATS message (the stored result the HTTP API reads):
diffs go first, then checker messages, then a reported run's output is halved (the longer
stream first); the verdicts, times and scores always stay."""

from __future__ import annotations

import msgspec

from contracts.judging import CaseResult, JudgementResult


def fit_judgement(result: JudgementResult, max_bytes: int) -> bytes:
    data = msgspec.json.encode(result)
    if len(data) <= max_bytes:
        return data
    lighter = msgspec.structs.replace(
        result, tests=[msgspec.structs.replace(test, diff=None) for test in result.tests])
    data = msgspec.json.encode(lighter)
    if len(data) <= max_bytes:
        return data
    lightest = msgspec.structs.replace(
        lighter, message=(lighter.message or "")[:4096] or None,
        tests=[msgspec.structs.replace(test, checker_message="") for test in lighter.tests])
    data = msgspec.json.encode(lightest)
    while len(data) > max_bytes and any(_output(test) for test in lightest.tests):
        lightest = msgspec.structs.replace(lightest, tests=[_halved(t) for t in lightest.tests])
        data = msgspec.json.encode(lightest)
    return data


def _output(test: CaseResult) -> int:
    return len(test.run.stdout) + len(test.run.stderr) if test.run else 0


def _halved(test: CaseResult) -> CaseResult:
    """The test with the longer of its run's streams cut to half (a short stderr survives a
    flood on stdout)."""
    run = test.run
    if run is None or not _output(test):
        return test
    if len(run.stdout) >= len(run.stderr):
        run = msgspec.structs.replace(run, stdout=run.stdout[: len(run.stdout) // 2])
    else:
        run = msgspec.structs.replace(run, stderr=run.stderr[: len(run.stderr) // 2])
    return msgspec.structs.replace(test, run=run)

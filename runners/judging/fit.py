"""A judgement's result made to fit one NATS message (the stored result the HTTP API reads):
diffs go first, then checker messages; the verdicts, times and scores always stay."""

from __future__ import annotations

import msgspec

from contracts.judging import JudgementResult


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
    return msgspec.json.encode(lightest)

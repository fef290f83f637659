"""``coderunner bench --start``: the settings alternate round after round, and the summary gives
each one's medians beside its rounds."""

from __future__ import annotations

import pytest

from coderunner import bench, bench_start
from coderunner.cli import parser


def test_the_settings_alternate_and_each_gets_its_medians(
        monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    def one_round(at_once: str) -> dict[str, float]:
        order.append(at_once)
        n = float(len(order))
        return {"firstHelloMs": n, "secondHelloMs": 1.0, "poolsFullS": 10 * n}

    monkeypatch.setattr(bench_start, "one_round", one_round)
    summary = bench_start.run(3, lambda what: None)
    assert order == ["3", "1000"] * 3
    turns = summary["turns (3 at once)"]
    assert turns["poolCreationsAtOnce"] == 3
    assert (turns["firstHelloMsMedian"], turns["poolsFullSMedian"]) == (3.0, 30.0)
    assert summary["all at once (before)"]["firstHelloMsMedian"] == 4.0
    assert len(turns["rounds"]) == 3


def test_bench_start_runs_the_start_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[bool] = []
    monkeypatch.setattr(bench_start, "main", lambda as_json: called.append(as_json) or 0)
    monkeypatch.setattr(bench, "main", lambda **options: 1)  # the default bench, not this one
    args = parser().parse_args(["bench", "--start", "--json"])
    assert args.func(args) == 0 and called == [True]

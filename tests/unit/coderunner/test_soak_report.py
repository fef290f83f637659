"""The soak's figures: memory is judged flat on the platform's own processes, not on the
nats-server, which keeps a day of what it stores."""

from __future__ import annotations

from rich.console import Console

from coderunner.rss import Sample
from coderunner.soak_plan import Item, Outcome, account
from coderunner.soak_report import JUDGED, render, summary


def samples(nats_growth: float, edge_growth: float = 0.0) -> list[Sample]:
    return [Sample(n * 1000, n * 10.0,
                   {**dict.fromkeys(JUDGED, 40.0), "edge": 40.0 + n * edge_growth,
                    "nats-server": 20.0 + n * nats_growth}, load=1.5)
            for n in range(5)]


def done() -> list[Outcome]:
    item = Item(0, "ws", "python")
    return [Outcome(item, "id0", "ok", item.stdout)]


def test_a_growing_nats_server_leaves_memory_flat() -> None:
    figures = summary(account(done(), {"id0": 1}), 40.0, samples(nats_growth=5.0), 1000)
    assert figures["memory"]["flat"]
    assert figures["held"]
    by_name = {c["component"]: c for c in figures["memory"]["components"]}
    assert not by_name["nats-server"]["flat"]
    assert figures["loadAverage"] == {"mean": 1.5, "max": 1.5}


def test_a_growing_edge_is_not_flat() -> None:
    figures = summary(account(done(), {"id0": 1}), 40.0, samples(0.0, edge_growth=2.0), 1000)
    assert not figures["memory"]["flat"]


def test_memory_is_not_flat_without_samples() -> None:
    assert not summary(account(done(), {"id0": 1}), 1.0, [], 0)["memory"]["flat"]


def test_render_names_problems_and_the_verdicts() -> None:
    item = Item(3, "api", "lua")
    wrong = [Outcome(item, "id3", "time_limit")]
    console = Console(record=True, width=120)
    render(summary(account(wrong, {"id3": 1}), 5.0, samples(0.0), 1000), console)
    text = console.export_text()
    assert "id3: verdict time_limit" in text
    assert "DID NOT HOLD" in text
    assert "memory of edge, dispatcher, runner, janitor: flat" in text

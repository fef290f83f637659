"""The soak's plan and its accounting: exact proportions, and every execution judged against
the completions the stream holds."""

from __future__ import annotations

from collections import Counter

import pytest

from coderunner.soak_plan import (
    CHANNEL_MIX,
    LANGUAGE_MIX,
    PROGRAMS,
    Item,
    Outcome,
    account,
    percentile,
    plan,
    spread,
)


def test_spread_keeps_the_total_and_rounds_by_largest_remainder() -> None:
    assert Counter(spread(10, {"a": 1, "b": 1, "c": 1})) == {"a": 4, "b": 3, "c": 3}
    assert Counter(spread(7, {"x": 50, "y": 35, "z": 15})) == {"x": 4, "y": 2, "z": 1}
    assert spread(0, {"a": 1}) == []


def test_plan_has_the_mix_exactly_and_the_same_order_for_the_same_seed() -> None:
    items = plan(1000)
    assert Counter(i.channel for i in items) == {
        channel: 1000 * share // sum(CHANNEL_MIX.values()) for channel, share in
        CHANNEL_MIX.items()}
    assert Counter(i.language for i in items) == {
        name: 1000 * share // sum(LANGUAGE_MIX.values()) for name, share in LANGUAGE_MIX.items()}
    assert [i.number for i in items] == list(range(1000))
    assert items == plan(1000)
    assert items != plan(1000, seed=2)


def test_plan_mixes_channels_and_languages_throughout() -> None:
    first_tenth = plan(1000)[:100]
    assert {i.channel for i in first_tenth} == set(CHANNEL_MIX)
    assert {i.language for i in first_tenth} == set(LANGUAGE_MIX)


def test_plan_refuses_a_language_without_a_program() -> None:
    with pytest.raises(ValueError, match="cobol"):
        plan(10, languages={"python": 1, "cobol": 1})


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_every_program_prints_its_own_word(language: str) -> None:
    item = Item(41, "ws", language)
    assert "soak-41" in item.source
    assert item.stdout == "soak-41\n"
    assert item.main_file.startswith("main.")


def ok(number: int) -> Outcome:
    item = Item(number, "ws", "python")
    return Outcome(item, f"id{number}", "ok", item.stdout)


def test_every_execution_completed_once_holds() -> None:
    outcomes = [ok(0), ok(1), Outcome(Item(2, "background", "bash"), "id2", "ok")]
    done = account(outcomes, {"id0": 1, "id1": 1, "id2": 1, "someone-else": 3})
    assert done.held
    assert (done.planned, done.accepted, done.once) == (3, 3, 3)
    assert done.by_channel["background"]["ok"] == 1


def test_a_missing_and_a_duplicated_completion_are_named() -> None:
    done = account([ok(0), ok(1), ok(2)], {"id0": 1, "id1": 2})
    assert done.missing == ["id2"]
    assert done.duplicated == {"id1": 2}
    assert done.once == 1
    assert not done.held


def test_refusals_wrong_output_and_bad_verdicts_are_problems() -> None:
    refused = Outcome(Item(0, "api", "python"), error="HTTP 429: queue_full")
    crossed = Outcome(Item(1, "ws", "python"), "id1", "ok", "soak-2\n")
    failed = Outcome(Item(2, "background", "c"), "id2", "time_limit")
    lost = Outcome(Item(3, "ws", "lua"), "id3", error="socket closed")
    done = account([refused, crossed, failed, lost], {"id1": 1, "id2": 1, "id3": 1})
    assert done.problems == {
        "#0": "refused: HTTP 429: queue_full",
        "id1": "stdout 'soak-2\\n', expected 'soak-1\\n'",
        "id2": "verdict time_limit",
        "id3": "no completion seen: socket closed",
    }
    assert done.accepted == 3
    assert not done.held


def test_a_completion_published_twice_fails_though_the_stream_kept_one() -> None:
    done = account([ok(0)], {"id0": 1}, seen={"id0": 2})
    assert done.published_twice == {"id0": 2}
    assert not done.held


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0

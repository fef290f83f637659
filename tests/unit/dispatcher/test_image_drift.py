"""Placement matches on the image: a language's jobs go only to runners with the fleet's
usual image of it (its inputs hash on most slots), not to one whose image drifted."""

from __future__ import annotations

import msgspec

from contracts.messages import RunnerInfo
from dispatcher.fleet import Fleet


def runner(name: str, images: dict[str, str], capacity: int = 4) -> RunnerInfo:
    return RunnerInfo(name, {"python": "3.11", "lua": "5.4"}, capacity=capacity, images=images)


def test_a_runner_whose_image_drifted_gets_no_jobs_of_that_language() -> None:
    fleet = Fleet()
    fleet.heartbeat(runner("a", {"python": "h1", "lua": "l1"}), now=0.0)
    fleet.heartbeat(runner("b", {"python": "h1", "lua": "l1"}), now=0.0)
    fleet.heartbeat(runner("drifted", {"python": "h2", "lua": "l1"}, capacity=6), now=0.0)
    assert fleet.usual_image("python") == "h1"  # 8 slots against 6
    for n in range(8):
        chosen = fleet.choose("python", now=1.0)
        assert chosen in ("a", "b")
        fleet.sent(chosen, f"p{n}", "python")
    assert fleet.choose("python", now=1.0) is None  # a and b are full; drifted stays out
    assert fleet.choose("lua", now=1.0) == "drifted"  # its lua image is the usual one


def test_runners_that_tell_no_image_are_taken_as_usual() -> None:
    fleet = Fleet()
    fleet.heartbeat(runner("old", {}), now=0.0)  # an older runner: no images field
    assert fleet.usual_image("python") is None
    assert fleet.choose("python", now=1.0) == "old"
    fleet.heartbeat(runner("new", {"python": "h1"}, capacity=1), now=0.0)
    assert fleet.choose("python", now=1.0, prefer="old") == "old"


def test_the_usual_image_is_counted_when_runners_come_and_go_not_at_each_choice() -> None:
    fleet = Fleet()
    fleet.heartbeat(runner("a", {"python": "h1"}, capacity=4), now=0.0)
    fleet.heartbeat(runner("b", {"python": "h2"}, capacity=2), now=0.0)
    assert fleet.choose("python", now=1.0) == "a"
    # b's slots change behind the fleet's back: a choice does not count the images again
    view = fleet.runners["b"]
    view.info = msgspec.structs.replace(view.info, capacity=8)
    assert fleet.usual_image("python") == "h1"
    assert fleet.choose("python", now=1.0) == "a"
    fleet.gone("a", now=1.0)  # a stopped: h2 is the usual image at once
    assert fleet.usual_image("python") == "h2"
    assert fleet.choose("python", now=1.0) == "b"
    fleet.heartbeat(runner("c", {"python": "h3"}, capacity=1), now=30.0)  # b went silent
    assert fleet.usual_image("python") == "h3"


def test_a_runner_gone_silent_stops_counting_at_a_heartbeat_a_second_after_the_last_count() -> None:
    fleet = Fleet(silent_s=10)
    fleet.heartbeat(runner("a", {"python": "h1"}, capacity=4), now=0.0)
    fleet.heartbeat(runner("b", {"python": "h2"}, capacity=2), now=0.0)
    fleet.heartbeat(runner("b", {"python": "h2"}, capacity=2), now=5.0)
    assert fleet.usual_image("python") == "h1"
    fleet.heartbeat(runner("b", {"python": "h2"}, capacity=2), now=10.5)  # a is silent
    assert fleet.usual_image("python") == "h2"
    assert fleet.choose("python", now=10.5) == "b"

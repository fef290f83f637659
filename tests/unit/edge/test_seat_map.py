"""An edge's picture of the seats (edge/seat_map.py): it places only while every dispatcher heard
lately says no job waits and no cap is set; on the owner's last runner first, else on the
freest of a few live runners with seats that take the language with the usual image; never on a
seat it heard held, refused lately, or of a job it heard complete."""

from __future__ import annotations

import random

from contracts.messages import CellJob, PlacementState, ProgramJob, RunnerInfo
from contracts.seats import UNKNOWN_HOLDER_S
from contracts.subjects import PLACEMENT_STATE_KEPT_S, RUNNER_SILENT_S, runner_token
from edge.seat_map import DRAWN, SAMPLED, SeatMap, placeable

NOW = 1000.0


def runner(runner_id: str, capacity: int = 2, seats: bool = True, image: str = "h1",
           language: str = "python") -> RunnerInfo:
    return RunnerInfo(runner_id, {language: "3"}, capacity=capacity, seats=seats,
                      images={language: image})


def state(dispatcher: str = "d1", waiting: int = 0, capped: bool = False,
          usual: str = "h1") -> PlacementState:
    return PlacementState(dispatcher, waiting, capped, {"python": usual})


def seat_map(*runners: RunnerInfo, seed: int = 1) -> SeatMap:
    seats = SeatMap(random.Random(seed))
    for info in runners:
        seats.heartbeat(info, NOW)
    seats.state(state(), NOW)
    return seats


def program(execution_id: str = "e1", network: bool = False) -> ProgramJob:
    return ProgramJob(execution_id=execution_id, owner="key:a", priority=1, submitted_at=0.0,
                      language="python", main_file="main.py", files=[], network=network)


def test_only_plain_programs_go_straight() -> None:
    assert placeable(program())
    assert not placeable(program(network=True))
    assert not placeable(CellJob(execution_id="c", owner="key:a", priority=0,
                                 submitted_at=0.0, notebook_id="n", cell_id="c", code="1"))


def test_it_places_only_while_every_dispatcher_heard_lately_says_none_waits() -> None:
    seats = SeatMap()
    assert not seats.may_place(NOW)  # no dispatcher heard: an older one takes every job
    seats.state(state("d1"), NOW)
    assert seats.may_place(NOW)
    seats.state(state("d2", waiting=1), NOW)
    assert not seats.may_place(NOW)
    assert seats.may_place(NOW + PLACEMENT_STATE_KEPT_S + 1) is False  # none heard lately
    seats.state(state("d1"), NOW + PLACEMENT_STATE_KEPT_S)
    assert seats.may_place(NOW + PLACEMENT_STATE_KEPT_S + 1)  # d2 was not heard again
    seats.state(state("d1", capped=True), NOW + PLACEMENT_STATE_KEPT_S + 1)
    assert not seats.may_place(NOW + PLACEMENT_STATE_KEPT_S + 1)


def test_only_live_runners_with_seats_and_the_usual_image_of_the_language_are_chosen() -> None:
    seats = seat_map(runner("no-seats", seats=False), runner("drifted", image="h2"),
                     runner("ruby", language="ruby"), runner("good"))
    assert {seats.choose("python", "key:a", NOW)[0]  # type: ignore[index]
            for _ in range(50)} == {"good"}
    seats.heartbeat(runner("good"), NOW - RUNNER_SILENT_S)  # silent since
    assert seats.choose("python", "key:a", NOW) is None


def test_the_freest_of_the_runners_drawn_gets_the_job() -> None:
    names = [f"r{n}" for n in range(SAMPLED)]
    seats = seat_map(*(runner(name, capacity=3) for name in names))
    for n, name in enumerate(names[:-1]):  # each but the last holds a job
        seats.released(f"e{n}", runner_token(name), 0, NOW)
    assert {seats.choose("python", "key:a", NOW)[0]  # type: ignore[index]
            for _ in range(30)} == {names[-1]}


def test_the_owners_last_runner_goes_first_while_it_has_a_free_seat() -> None:
    seats = seat_map(*(runner(f"r{n}") for n in range(8)), seed=3)
    seats.placed("e1", "key:a", "r5", 0, NOW)
    assert seats.choose("python", "key:a", NOW) == ("r5", 1)
    seats.placed("e2", "key:a", "r5", 1, NOW)
    choice = seats.choose("python", "key:a", NOW)
    assert choice is not None and choice[0] != "r5"  # full: another
    seats.completed("e1")
    assert seats.choose("python", "key:a", NOW) == ("r5", 0)


def test_a_seat_heard_held_refused_or_of_a_completed_job_is_picked_as_it_should_be() -> None:
    seats = seat_map(runner("r1", capacity=2))
    seats.released("theirs", runner_token("r1"), 0, NOW)
    assert {seats.choose("python", "key:a", NOW) for _ in range(20)} == {("r1", 1)}
    seats.refused("r1", 1, NOW)
    assert seats.choose("python", "key:a", NOW) is None
    assert seats.choose("python", "key:a", NOW + UNKNOWN_HOLDER_S) == ("r1", 1)
    seats.completed("theirs")
    seats.completed("late")
    seats.released("late", runner_token("r1"), 1, NOW)  # heard after its completion
    assert {seats.choose("python", "key:a", NOW + UNKNOWN_HOLDER_S)
            for _ in range(20)} == {("r1", 0), ("r1", 1)}


def test_a_runner_that_stopped_gets_nothing() -> None:
    seats = seat_map(runner("r1"))
    seats.gone("r1")
    assert seats.choose("python", "key:a", NOW) is None


def test_a_lone_taker_among_many_runners_is_found() -> None:
    others = [runner(f"ruby{n}", language="ruby") for n in range(5 * DRAWN)]
    seats = seat_map(*others, runner("py"))
    assert {seats.choose("python", f"key:{n}", NOW)[0]  # type: ignore[index]
            for n in range(20)} == {"py"}

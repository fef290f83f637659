from __future__ import annotations

from edge.fair_share import FORGET_AFTER_S, OpenRuns


def test_a_session_gets_its_cap_of_unfinished_runs_and_room_again_on_a_completion() -> None:
    runs = OpenRuns(per_session=2, per_address=10)
    assert runs.admit("e1", "s1", "10.0.0.1") is None
    assert runs.admit("e2", "s1", "10.0.0.1") is None
    refused = runs.admit("e3", "s1", "10.0.0.1")
    assert refused is not None and "this session has 2 executions unfinished" in refused
    assert runs.admit("e3", "s2", "10.0.0.1") is None, "another session has its own room"
    runs.done("e1")
    runs.done("e1")  # a completion seen twice frees one place
    assert runs.admit("e4", "s1", "10.0.0.1") is None
    assert runs.admit("e5", "s1", "10.0.0.1") is not None


def test_sessions_of_one_address_share_the_address_cap() -> None:
    runs = OpenRuns(per_session=2, per_address=3)
    for n, session in enumerate(["s1", "s1", "s2"]):
        assert runs.admit(f"e{n}", session, "10.0.0.1") is None
    refused = runs.admit("e9", "s3", "10.0.0.1")
    assert refused is not None and "this client address has 3" in refused
    assert runs.admit("e9", "s3", "10.0.0.2") is None


def test_a_run_whose_completion_never_came_is_forgotten_in_time() -> None:
    now = [0.0]
    runs = OpenRuns(per_session=1, per_address=1, clock=lambda: now[0])
    assert runs.admit("lost", "s1", "a") is None
    now[0] = FORGET_AFTER_S
    assert runs.admit("e2", "s1", "a") is not None
    now[0] = FORGET_AFTER_S + 1
    assert runs.admit("e2", "s1", "a") is None
    assert runs.unfinished("s1") == 1

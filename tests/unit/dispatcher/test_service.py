from __future__ import annotations

from dispatcher.service import DispatchQueue, Waiting


def waiting(eid: str, priority: int, at: float = 0.0) -> Waiting[str]:
    return Waiting(eid, priority, at, eid)


def drain(queue: DispatchQueue[str]) -> list[str]:
    out = []
    while (item := queue.next()) is not None:
        out.append(item.execution_id)
    return out


def test_highest_priority_first_and_fifo_within_one() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=10, queue_timeout_s=60)
    for eid, priority in [("bg1", 0), ("api1", 1), ("ws1", 2), ("api2", 1), ("ws2", 2)]:
        queue.add(waiting(eid, priority))
    assert drain(queue) == ["ws1", "ws2", "api1", "api2", "bg1"]


def test_the_cap_holds_jobs_until_a_completion_frees_a_slot() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=2, queue_timeout_s=60)
    for eid in ("a", "b", "c"):
        queue.add(waiting(eid, 1))
    assert drain(queue) == ["a", "b"]
    assert queue.next() is None
    assert queue.completed("a")
    assert drain(queue) == ["c"]


def test_a_completion_of_an_unknown_job_frees_nothing() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=1, queue_timeout_s=60)
    queue.add(waiting("a", 1))
    queue.add(waiting("b", 1))
    assert drain(queue) == ["a"]
    assert not queue.completed("stranger")
    assert queue.next() is None


def test_a_duplicate_of_a_queued_or_running_job_is_refused() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    assert queue.add(waiting("a", 2))
    assert not queue.add(waiting("a", 2))
    assert drain(queue) == ["a"]
    assert not queue.add(waiting("a", 2))


def test_jobs_waiting_past_the_timeout_expire() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    queue.add(waiting("old", 2, at=100.0))
    queue.add(waiting("new", 2, at=150.0))
    expired = queue.take_expired(now=161.0)
    assert [w.execution_id for w in expired] == ["old"]
    assert queue.expired == 1
    assert drain(queue) == ["new"]


def test_cancel_removes_a_queued_job() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    queue.add(waiting("a", 1))
    queue.add(waiting("b", 1))
    cancelled = queue.cancel("a", now=0.0)
    assert cancelled is not None and cancelled.execution_id == "a"
    assert queue.cancel("a", now=0.0) is None
    assert drain(queue) == ["b"]


def test_depth_counts_per_priority() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    queue.add(waiting("a", 1))
    queue.add(waiting("b", 0))
    queue.add(waiting("c", 0))
    assert queue.depth() == {2: 0, 1: 1, 0: 2}
    assert len(queue) == 3


def test_one_job_of_a_group_runs_at_a_time_in_order_and_others_pass() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=10, queue_timeout_s=60)
    for eid, group in [("nb1-a", "nb1"), ("nb1-b", "nb1"), ("bg", None), ("nb2-a", "nb2"),
                       ("nb1-c", "nb1")]:
        queue.add(Waiting(eid, 0, 0.0, eid, group))
    assert drain(queue) == ["nb1-a", "bg", "nb2-a"]
    assert queue.completed("nb2-a")
    assert queue.next() is None  # nb1 still runs its first cell
    assert queue.completed("nb1-a")
    assert drain(queue) == ["nb1-b"]
    assert queue.completed("nb1-b")
    assert drain(queue) == ["nb1-c"]


def test_a_cell_waiting_for_its_own_notebook_does_not_expire() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=10, queue_timeout_s=60)
    queue.add(Waiting("nb-a", 0, 0.0, "nb-a", "nb"))
    queue.add(Waiting("nb-b", 0, 0.0, "nb-b", "nb"))
    queue.add(Waiting("other", 0, 0.0, "other"))
    assert drain(queue) == ["nb-a", "other"]
    assert queue.take_expired(now=600.0) == [], "nb-b waits for nb-a, not for the queue"
    assert queue.completed("nb-a")
    assert [w.execution_id for w in queue.take_expired(now=600.0)] == ["nb-b"]


def test_a_job_no_runner_can_take_waits_and_the_next_one_goes() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    for eid in ("java", "py1", "py2"):
        queue.add(waiting(eid, 2))

    def python_only(w: Waiting[str]) -> bool:
        return w.execution_id.startswith("py")

    taken = queue.next(python_only)
    assert taken is not None and taken.execution_id == "py1"
    assert queue.depth()[2] == 2
    taken = queue.next()
    assert taken is not None and taken.execution_id == "java", "first again once it can go"


def test_a_job_put_back_goes_first_again() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=5, queue_timeout_s=60)
    for eid in ("a", "b"):
        queue.add(waiting(eid, 1))
    taken = queue.next()
    assert taken is not None and taken.execution_id == "a"
    queue.put_back(taken)
    assert queue.running == set()
    assert not queue.add(waiting("a", 1)), "still known: a duplicate is refused"
    assert drain(queue) == ["a", "b"]


# --- fair share between owners (issue 17) -----------------------------------------------------


def owned(eid: str, owner: str, priority: int = 1) -> Waiting[str]:
    return Waiting(eid, priority, 0.0, eid, owner=owner)


def test_waiting_jobs_of_different_owners_take_turns_within_a_priority() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=10, queue_timeout_s=60)
    for n in range(4):
        queue.add(owned(f"a{n}", "greedy"))
    queue.add(owned("b0", "other"))
    queue.add(owned("b1", "other"))
    queue.add(owned("c0", "third"))
    assert drain(queue) == ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]


def test_an_owner_alone_takes_every_free_slot() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=4, queue_timeout_s=60,
                                              owner_share=0.5)
    for n in range(6):
        queue.add(owned(f"a{n}", "greedy"))
    assert drain(queue) == ["a0", "a1", "a2", "a3"]


def test_the_next_free_slot_goes_to_the_owner_that_waited_not_the_one_over_its_share() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=4, queue_timeout_s=60,
                                              owner_share=0.5)
    for n in range(300):
        queue.add(owned(f"a{n}", "greedy", priority=2))
    assert drain(queue) == ["a0", "a1", "a2", "a3"]
    queue.add(owned("hello", "other", priority=1))  # even at a lower priority
    assert queue.completed("a0")
    assert drain(queue) == ["hello"]
    assert queue.completed("a1")
    assert drain(queue) == ["a4"], "nobody else waits: the greedy owner fills the slot"


def test_an_owner_under_its_share_keeps_its_priority_over_another_under_its_share() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=4, queue_timeout_s=60,
                                              owner_share=0.5)
    queue.add(owned("bg", "a", priority=0))
    queue.add(owned("ws", "b", priority=2))
    assert drain(queue) == ["ws", "bg"]


def test_a_slot_handed_back_is_no_longer_counted_against_its_owner() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=2, queue_timeout_s=60,
                                              owner_share=0.5)
    queue.add(owned("a0", "a"))
    queue.add(owned("a1", "a"))
    queue.add(owned("b0", "b"))
    first = queue.next()
    assert first is not None and first.execution_id == "a0"
    queue.put_back(first)
    assert queue.running_by_owner == {}
    assert drain(queue) == ["a0", "b0"]
    assert queue.completed("a0") and queue.completed("b0")
    assert queue.running_by_owner == {}

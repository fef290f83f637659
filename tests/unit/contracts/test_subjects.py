"""The subjects' readers undo their writers: what a component reads back out of a subject is
what the publisher put in."""

from __future__ import annotations

from contracts import subjects


def test_an_execution_id_comes_back_out_of_its_slot_and_completion() -> None:
    assert subjects.execution_of_slot(subjects.slot("0123abcd")) == "0123abcd"
    assert subjects.execution_of_completion(subjects.completed("0123abcd")) == "0123abcd"
    assert subjects.is_completion(subjects.completed("0123abcd"))


def test_a_runner_comes_back_out_of_its_heartbeat_and_its_consumer_is_known() -> None:
    subject = subjects.heartbeats().replace(">", "runner-7")
    assert subjects.runner_of_heartbeat(subject) == "runner-7"
    assert subjects.is_runner_consumer(subjects.runner_consumer("host.1"))
    assert not subjects.is_runner_consumer(subjects.dispatcher_consumer(2))


def test_a_bucket_lives_in_its_kv_stream() -> None:
    assert subjects.kv_stream(subjects.EXECUTIONS_BUCKET) == "KV_executions"

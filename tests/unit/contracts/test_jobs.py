"""A job is one kind of work (``ProgramJob | CellJob``) and every completion a component makes
for a job comes from ``completion_for``."""

from __future__ import annotations

import json

import msgspec
import pytest

from contracts.messages import (
    KERNEL_RUNTIME,
    CellJob,
    JobFile,
    ProgramJob,
    client_frame_decoder,
    completion_for,
    encode,
    job_decoder,
    undecodable_job,
)

PROGRAM = ProgramJob(execution_id="e1", owner="key:k", priority=1, submitted_at=1.0,
                     request_id="r1", webhook=True, language="c",
                     files=[JobFile("main.c", "int main(){}")], main_file="main.c")
CELL = CellJob(execution_id="e2", owner="session:s", priority=0, submitted_at=2.0,
               request_id="r2", notebook_id="nb", cell_id="c1", code="1 + 1", kernel="bash")


def test_each_kind_of_job_travels_tagged_and_decodes_as_itself() -> None:
    assert json.loads(encode(PROGRAM))["kind"] == "program"
    wire = json.loads(encode(CELL))
    assert wire["kind"] == "cell" and wire["notebookId"] == "nb" and "files" not in wire
    assert job_decoder.decode(encode(PROGRAM)) == PROGRAM
    assert job_decoder.decode(encode(CELL)) == CELL


def test_a_cell_runs_in_the_kernels_runtime_whatever_its_kernel() -> None:
    assert CELL.runtime == KERNEL_RUNTIME == "python"
    assert PROGRAM.runtime == "c"


def test_a_completion_copies_the_job_and_a_cells_ids() -> None:
    cell = completion_for(CELL, "expired", "waited", queued_ms=5)
    assert (cell.execution_id, cell.verdict, cell.message, cell.queued_ms) == \
        ("e2", "expired", "waited", 5)
    assert (cell.language, cell.request_id, cell.notebook_id, cell.cell_id) == \
        ("python", "r2", "nb", "c1")
    program = completion_for(PROGRAM, "ok", exit_code=0, wall_ms=7, execution_count=None)
    assert (program.language, program.webhook, program.exit_code, program.wall_ms) == \
        ("c", True, 0, 7)
    assert program.notebook_id is None and program.cell_id is None


def test_a_job_from_a_newer_version_with_unknown_fields_still_decodes() -> None:
    wire = json.loads(encode(PROGRAM))
    wire["someNewField"] = {"x": 1}
    wire["files"][0]["mode"] = 493
    wire["limits"] = {"wallMs": 500, "gpus": 1}
    job = job_decoder.decode(json.dumps(wire))
    assert isinstance(job, ProgramJob)
    assert job.files == [JobFile("main.c", "int main(){}")]
    assert job.limits is not None and job.limits.wall_ms == 500


def test_a_client_frame_still_refuses_unknown_fields_inside_files_and_limits() -> None:
    frame = {"type": "execute_code", "language": "c", "mainFile": "main.c",
             "files": [{"name": "main.c", "content": "", "mode": 1}]}
    with pytest.raises(msgspec.ValidationError, match="unknown field `mode`"):
        client_frame_decoder.decode(json.dumps(frame))
    frame["files"] = [{"name": "main.c", "content": ""}]
    frame["limits"] = {"gpus": 1}
    with pytest.raises(msgspec.ValidationError, match="unknown field `gpus`"):
        client_frame_decoder.decode(json.dumps(frame))


def test_a_job_of_a_kind_this_version_lacks_ends_internal_error_saying_so() -> None:
    data = json.dumps({"kind": "teleport", "executionId": "e9", "owner": "key:k",
                       "priority": 1, "submittedAt": 1.0, "requestId": "r9",
                       "webhook": True}).encode()
    with pytest.raises(msgspec.ValidationError) as problem:
        job_decoder.decode(data)
    completion = undecodable_job(data, str(problem.value))
    assert completion is not None
    assert (completion.execution_id, completion.verdict, completion.request_id,
            completion.webhook) == ("e9", "internal_error", "r9", True)
    assert completion.message is not None and "'teleport'" in completion.message
    assert undecodable_job(b'{"kind": "teleport"}', "no id") is None
    assert undecodable_job(b"not json", "garbage") is None

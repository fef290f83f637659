"""A job is one kind of work (``ProgramJob | CellJob``) and every completion a component makes
for a job comes from ``completion_for``."""

from __future__ import annotations

import json

from contracts.messages import (
    KERNEL_RUNTIME,
    CellJob,
    ProgramJob,
    SourceFile,
    completion_for,
    encode,
    job_decoder,
)

PROGRAM = ProgramJob(execution_id="e1", owner="key:k", priority=1, submitted_at=1.0,
                     request_id="r1", webhook=True, language="c",
                     files=[SourceFile("main.c", "int main(){}")], main_file="main.c")
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

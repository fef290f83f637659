from __future__ import annotations

import msgspec
import pytest

from contracts.messages import (
    CompletionEvent,
    ExecutionEvent,
    NotebookOutputEvent,
    OutputEvent,
    StatusEvent,
    StoredOutput,
    TableEvent,
    TableResult,
    stored_output_decoder,
)
from runners.bus import fit_output
from runners.output import KeptOutput


class Recorder:
    def __init__(self) -> None:
        self.events: list[ExecutionEvent] = []
        self.running = 0

    async def publish(self, event: ExecutionEvent) -> None:
        self.events.append(event)

    async def on_running(self) -> None:
        self.running += 1


EVENTS: list[ExecutionEvent] = [
    StatusEvent("e1", "queued"),
    StatusEvent("e1", "running"),
    OutputEvent("e1", "stdout", "hello "),
    OutputEvent("e1", "stderr", "warn\n"),
    TableEvent("e1", ["n"], [[1], [2]]),
    OutputEvent("e1", "stdout", "world\n"),
    TableEvent("e1", ["a", "b"], [["x", None]]),
    CompletionEvent("e1", "ok", exit_code=0, truncated=True),
]


async def test_every_event_is_relayed_in_order() -> None:
    recorder = Recorder()
    kept = KeptOutput(recorder.publish, recorder.on_running)
    for event in EVENTS:
        await kept.publish(event)
    assert recorder.events == EVENTS


async def test_stdout_stderr_and_tables_are_kept() -> None:
    recorder = Recorder()
    kept = KeptOutput(recorder.publish, recorder.on_running)
    for event in EVENTS:
        await kept.publish(event)
    stored = kept.stored(CompletionEvent("e1", "ok", truncated=True))
    assert stored == StoredOutput(
        stdout="hello world\n",
        stderr="warn\n",
        tables=[TableResult(["n"], [[1], [2]]), TableResult(["a", "b"], [["x", None]])],
        truncated=True,
    )


async def test_nothing_printed_is_kept_as_empty() -> None:
    recorder = Recorder()
    kept = KeptOutput(recorder.publish, recorder.on_running)
    assert kept.stored(CompletionEvent("e1", "ok")) == StoredOutput()


async def test_on_running_is_called_once_for_a_running_status() -> None:
    recorder = Recorder()
    kept = KeptOutput(recorder.publish, recorder.on_running)
    await kept.publish(StatusEvent("e1", "queued"))
    assert recorder.running == 0
    await kept.publish(StatusEvent("e1", "running"))
    assert recorder.running == 1
    await kept.publish(OutputEvent("e1", "stdout", "x"))
    await kept.publish(CompletionEvent("e1", "ok"))
    assert recorder.running == 1


# --- fit_output -------------------------------------------------------------------------------


def test_small_output_is_unchanged() -> None:
    output = StoredOutput("out", "err", [TableResult(["n"], [[1]])])
    data = fit_output(output, 10_000)
    assert data == msgspec.json.encode(output)
    assert stored_output_decoder.decode(data) == output


def test_huge_output_is_cut_to_fit_and_marked_truncated() -> None:
    output = StoredOutput("o" * 200_000, "e" * 50_000)
    data = fit_output(output, 10_000)
    assert len(data) <= 10_000
    kept = stored_output_decoder.decode(data)
    assert kept.truncated
    assert output.stdout.startswith(kept.stdout)
    assert output.stderr.startswith(kept.stderr)
    assert kept.stdout


def test_tables_are_dropped_before_text_is_cut() -> None:
    big_table = TableResult(["v"], [["x" * 100] for _ in range(100)])
    output = StoredOutput("o" * 1000, "e" * 100, [TableResult(["n"], [[1]]), big_table])
    data = fit_output(output, 2_000)
    assert len(data) <= 2_000
    kept = stored_output_decoder.decode(data)
    assert kept.truncated
    assert kept.stdout == output.stdout
    assert kept.stderr == output.stderr
    assert kept.tables == [TableResult(["n"], [[1]])]  # the last tables go first


def test_a_short_stderr_survives_a_flood_on_stdout() -> None:
    traceback = "Traceback (most recent call last):\nValueError: boom\n"
    data = fit_output(StoredOutput(stdout="x" * 1_000_000, stderr=traceback), 100_000)
    kept = msgspec.json.decode(data, type=StoredOutput)
    assert kept.stderr == traceback
    assert kept.truncated
    assert len(data) <= 100_000


def test_a_limit_too_small_for_any_output_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError):
        fit_output(StoredOutput(stdout="x"), 10)


async def test_a_cells_outputs_and_count_are_kept() -> None:
    recorder = Recorder()
    kept = KeptOutput(recorder.publish, recorder.on_running)
    outputs = [{"output_type": "stream", "name": "stdout", "text": "hi\n"},
               {"output_type": "execute_result", "execution_count": 2,
                "data": {"text/plain": "42"}, "metadata": {}}]
    for output in outputs:
        await kept.publish(NotebookOutputEvent("e1", "nb1", "c1", output))
    stored = kept.stored(CompletionEvent("e1", "ok", execution_count=2))
    assert stored.outputs == outputs and stored.execution_count == 2
    assert stored.stdout == ""  # a cell's stream text lives in its outputs


def test_notebook_outputs_that_do_not_fit_are_dropped_last_first() -> None:
    image = {"output_type": "display_data", "data": {"image/png": "A" * 6000}, "metadata": {}}
    text = {"output_type": "stream", "name": "stdout", "text": "kept\n"}
    output = StoredOutput(outputs=[text, image, image])
    kept = stored_output_decoder.decode(fit_output(output, 7_000))
    assert kept.outputs == [text, image] and kept.truncated
    smaller = stored_output_decoder.decode(fit_output(output, 1_000))
    assert smaller.outputs == [text]

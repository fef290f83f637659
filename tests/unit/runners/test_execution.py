from __future__ import annotations

from typing import Any

import pytest

from contracts.messages import JobLimits, Limits, ProgramJob, SourceFile
from contracts.runtimes import Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners.agent_messages import Done
from runners.execution import agent_command, completion_of, resolve_limits, verdict_of

PYTHON = Runtime(
    name="python", display_name="Python", extension=".py", image="python",
    run=["python3", "{main}", "{args}"], env={"PYTHONUNBUFFERED": "1"},
    limits=RuntimeLimits(wall_ms=10_000, cpu_ms=10_000, memory_mb=256, processes=64),
)
C = Runtime(
    name="c", display_name="C", extension=".c", image="gcc",
    compile=["gcc", "-o", "{stem}", "{main}"], run=["./{stem}", "{args}"],
)
SETTINGS = RunnerSettings(max_wall_ms=300_000, max_memory_mb=1024, output_cap_kb=1024)


def job(**changes: Any) -> ProgramJob:
    fields: dict[str, Any] = {
        "execution_id": "e1", "language": "python", "files": [SourceFile("main.py", "")],
        "main_file": "main.py", "owner": "anon:e1", "priority": 1, "submitted_at": 0.0,
    }
    fields.update(changes)
    return ProgramJob(**fields)


def done(**fields: Any) -> Done:
    return Done(**{"phase": "run", "exit_code": 0, **fields})


@pytest.mark.parametrize(
    ("report", "verdict"),
    [
        (done(), "ok"),
        (done(exit_code=3), "runtime_error"),
        (done(exit_code=None, signal="SIGSEGV"), "runtime_error"),
        (done(exit_code=None, signal="SIGKILL", timed_out=True), "time_limit"),
        (done(exit_code=None, signal="SIGXCPU"), "time_limit"),
        (done(exit_code=None, signal="SIGKILL", oom=True), "memory_limit"),
        (done(exit_code=None, signal="SIGKILL", output_exceeded=True), "output_limit"),
        (done(exit_code=None, signal="SIGKILL", stopped=True, timed_out=True), "cancelled"),
        (done(phase="compile", exit_code=1), "compile_error"),
        (done(phase="compile", exit_code=None, signal="SIGKILL", timed_out=True), "time_limit"),
        (done(phase="setup", exit_code=None, error="bad name"), "internal_error"),
    ],
)
def test_agent_reports_map_to_verdicts(report: Done, verdict: str) -> None:
    assert verdict_of(report) == verdict


def test_cpu_time_past_the_limit_is_a_time_limit_even_when_the_program_ended() -> None:
    assert verdict_of(done(cpu_ms=1300), cpu_limit_ms=1000) == "time_limit"
    assert verdict_of(done(cpu_ms=1000), cpu_limit_ms=1000) == "ok"
    assert verdict_of(done(exit_code=3, cpu_ms=1300), cpu_limit_ms=1000) == "time_limit"
    limits = resolve_limits(job(limits=Limits(cpu_ms=1000, compile_cpu_ms=5000)), C, SETTINGS)
    compiled = done(phase="compile", exit_code=1, cpu_ms=1300)
    assert completion_of(compiled, job(), limits, queued_ms=0, wall_ms=0).verdict == (
        "compile_error")  # the compile step has its own CPU limit
    slow = done(phase="compile", exit_code=1, cpu_ms=6300)  # past it, the kernel's count late
    assert completion_of(slow, job(), limits, queued_ms=0, wall_ms=0).verdict == "compile_error"
    killed = done(phase="compile", signal="SIGXCPU", cpu_ms=6300)
    assert completion_of(killed, job(), limits, queued_ms=0, wall_ms=0).verdict == "time_limit"


def test_each_step_gets_its_own_limits_and_the_run_its_kernel_limits() -> None:
    asked = Limits(wall_ms=2000, cpu_ms=1500, cpu_extra_ms=500, stack_kb=10**6,
                   file_size_kb=1024, process_memory_kb=65536, compile_wall_ms=9000,
                   compile_process_memory_kb=262144)
    limits = resolve_limits(job(limits=asked), C, SETTINGS)
    compile_step, run_step = agent_command(job(language="c", main_file="prog.c"), C,
                                           limits).steps
    assert (compile_step.wall_ms, compile_step.cpu_ms) == (9000, 1500)
    assert compile_step.address_space_bytes == 262144 * 1024
    assert (compile_step.stack_bytes, compile_step.file_size_bytes) == (0, 0)
    assert (run_step.wall_ms, run_step.cpu_ms) == (2000, 2000)  # the extra time to the kill
    assert run_step.stack_bytes == 64 * 1024 * 1024  # the sandbox's hard limit at most
    assert (run_step.file_size_bytes, run_step.address_space_bytes) == (1024 * 1024,
                                                                      65536 * 1024)
    plain = agent_command(job(), PYTHON, resolve_limits(job(), PYTHON, SETTINGS)).steps[0]
    assert (plain.stack_bytes, plain.file_size_bytes, plain.address_space_bytes) == (0, 0, 0)


def test_completion_carries_measurements_and_the_signal_name() -> None:
    report = done(exit_code=None, signal="SIGSEGV", wall_ms=7, cpu_ms=5, memory_kb=900)
    limits = resolve_limits(job(), PYTHON, SETTINGS)
    completion = completion_of(report, job(request_id="r9"), limits, queued_ms=3, wall_ms=8)
    assert (completion.verdict, completion.signal, completion.exit_code) == (
        "runtime_error", "SIGSEGV", None,
    )
    assert (completion.wall_ms, completion.cpu_ms, completion.memory_kb) == (7, 5, 900)
    assert (completion.queued_ms, completion.request_id) == (3, "r9")
    assert completion.limits == JobLimits(wall_ms=limits.wall_ms, cpu_ms=limits.cpu_ms,
                                          memory_mb=limits.memory_mb, output_kb=1024,
                                          processes=limits.processes)


def test_limits_default_to_the_runtime_and_clamp_to_the_server_maxima() -> None:
    assert resolve_limits(job(), PYTHON, SETTINGS).wall_ms == 10_000
    asked = job(limits=Limits(wall_ms=10**9, memory_mb=10**6, output_kb=10**6))
    limits = resolve_limits(asked, PYTHON, SETTINGS)
    assert (limits.wall_ms, limits.memory_mb, limits.output_bytes) == (
        300_000, 1024, 1024 * 1024,
    )


def test_interactive_jobs_may_run_for_the_server_maximum_by_default() -> None:
    assert resolve_limits(job(interactive=True), PYTHON, SETTINGS).wall_ms == 300_000


def test_agent_command_has_compile_then_run_steps_with_args() -> None:
    command = agent_command(job(language="c", main_file="prog.c", args=["x"]), C,
                            resolve_limits(job(), C, SETTINGS))
    assert [s.phase for s in command.steps] == ["compile", "run"]
    assert command.steps[0].argv == ["gcc", "-o", "prog", "prog.c"]
    assert command.steps[1].argv == ["./prog", "x"]


def test_stdin_closes_unless_interactive_without_given_input() -> None:
    limits = resolve_limits(job(), PYTHON, SETTINGS)
    assert agent_command(job(), PYTHON, limits).close_stdin is True
    assert agent_command(job(interactive=True), PYTHON, limits).close_stdin is False
    assert agent_command(job(interactive=True, stdin="1\n"), PYTHON, limits).close_stdin is True


def test_environment_is_an_allow_list_plus_the_runtime_env() -> None:
    env = agent_command(job(), PYTHON, resolve_limits(job(), PYTHON, SETTINGS)).env
    assert set(env) == {"PATH", "LANG", "HOME", "PYTHONUNBUFFERED"}

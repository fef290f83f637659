"""The agent's warm compile server: only a server still working at the wall limit is a timeout
(issue #18); one that ended without an answer (crashed, killed) leaves the compile to the
compiler. It is used, and kept beside programs, only while it is the very process started,
unchanged (niceness, limits, each thread's scheduling, affinity and I/O priority), and (to be
kept) sealed; a server that went is not written to (the agent would die of SIGPIPE). No
annotation processor, plugin or options file gets into it."""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import msgspec
import pytest

from contracts.settings import REPO_ROOT
from runners.agent_messages import Done, decode_event

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
compile_server_module: Any = importlib.import_module("agent_compile_server")
budget_module: Any = importlib.import_module("agent_budget")


def reported(result: dict[str, Any]) -> Done:
    """The compile server's result as the runner decodes it, once the agent added its phase;
    nothing of it lost on the way."""
    line = json.dumps({**result, "phase": "compile"}).encode()
    done = decode_event(line)
    assert isinstance(done, Done)
    assert msgspec.to_builtins(done) == json.loads(line)
    return done


def budget() -> Any:
    return budget_module.OutputBudget(1000)


def server(script: str) -> Any:
    compile_server = compile_server_module.CompileServer(["javac-server"], {})
    compile_server.proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True)
    compile_server.ready = True
    compile_server.identity = compile_server_module.identity_of(compile_server.proc.pid)
    compile_server.settings = compile_server_module.settings_of(compile_server.proc.pid)
    return compile_server


def test_a_compile_server_that_crashes_leaves_the_compile_to_the_compiler(
        capfd: pytest.CaptureFixture[str]) -> None:
    crash = "import os, signal, sys\nsys.stdin.readline()\nos.kill(os.getpid(), signal.SIGSEGV)"
    compile_server = server(crash)
    assert compile_server.compile(["javac", "Main.java"], 10_000, budget()) is None
    assert compile_server.proc is None and compile_server.spared() == set()
    assert capfd.readouterr().out == ""  # nothing of it in the compile's output


def test_a_compile_server_that_exits_or_answers_nonsense_leaves_the_compile_to_the_compiler(
        ) -> None:
    assert server("import sys\nsys.stdin.readline()\nsys.exit(3)").compile(
        ["javac", "Main.java"], 10_000, budget()) is None
    nonsense = server("import sys, time\nsys.stdin.readline()\nprint('what?', flush=True)\n"
                      "time.sleep(60)")
    assert nonsense.compile(["javac", "Main.java"], 10_000, budget()) is None
    assert nonsense.proc is None


def test_only_a_compile_server_still_working_at_the_wall_limit_timed_out() -> None:
    result = server("import sys, time\nsys.stdin.readline()\ntime.sleep(60)").compile(
        ["javac", "Main.java"], 300, budget())
    assert (result["timedOut"], result["signal"]) == (True, "SIGKILL")
    assert reported(result).timed_out


def test_diagnostics_past_the_output_budget_are_cut_and_reported(
        capfd: pytest.CaptureFixture[str]) -> None:
    answer = "import sys\nsys.stdin.readline()\nsys.stdout.write('EXIT 1 1500\\n' + 'x' * 1500)\n"
    left = budget()
    compile_server = server(answer + "sys.stdout.flush()\nsys.stdin.readline()")
    result = compile_server.compile(["javac", "Main.java"], 10_000, left)
    compile_server.stop()
    assert (result["exitCode"], result["outputExceeded"], left.left) == (1, True, 0)
    assert reported(result).output_exceeded
    assert capfd.readouterr().out.count("x") == 1000


def test_a_server_reniced_by_a_program_is_no_longer_intact_nor_used() -> None:
    compile_server = server("import sys\nsys.stdin.readline()")
    compile_server.sealed = True
    assert compile_server.intact() and compile_server.spared() == {compile_server.proc.pid}
    os.setpriority(os.PRIO_PROCESS, compile_server.proc.pid, 19)  # as a program could
    assert not compile_server.intact() and compile_server.spared() == set()
    assert compile_server.compile(["javac", "Main.java"], 10_000, budget()) is None
    compile_server.stop()


def test_a_server_whose_limits_a_program_lowered_is_no_longer_intact_nor_used() -> None:
    compile_server = server("import sys\nsys.stdin.readline()")
    compile_server.sealed = True
    pid = compile_server.proc.pid
    _, hard = resource.prlimit(pid, resource.RLIMIT_CPU)
    resource.prlimit(pid, resource.RLIMIT_CPU, (1, hard))  # prlimit --pid <server> --cpu=1
    assert not compile_server.intact() and compile_server.spared() == set()
    assert compile_server.compile(["javac", "Main.java"], 10_000, budget()) is None
    compile_server.stop()


def threaded_server() -> Any:
    """A server with a second thread, whose id it prints first."""
    compile_server = server(
        "import sys, threading\n"
        "def wait():\n    print(threading.get_native_id(), flush=True)\n    sys.stdin.readline()\n"
        "threading.Thread(target=wait).start()\n")
    assert compile_server.proc.stdout is not None
    tid = int(compile_server.proc.stdout.readline())
    compile_server.settings = compile_server_module.settings_of(compile_server.proc.pid)
    compile_server.sealed = True
    assert compile_server.intact()
    compile_server.tid = tid
    return compile_server


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: no affinity to change")
def test_a_server_one_of_whose_threads_a_program_pinned_is_no_longer_intact() -> None:
    compile_server = threaded_server()
    cpus = sorted(os.sched_getaffinity(compile_server.tid))
    os.sched_setaffinity(compile_server.tid, cpus[:1])  # one thread, not the process's first
    assert not compile_server.intact() and compile_server.spared() == set()
    compile_server.stop()


def test_a_server_one_of_whose_threads_a_program_reniced_is_no_longer_intact() -> None:
    compile_server = threaded_server()
    os.setpriority(os.PRIO_PROCESS, compile_server.tid, 19)
    assert not compile_server.intact()
    compile_server.stop()


@pytest.mark.skipif(compile_server_module.IOPRIO_GET is None, reason="no ioprio_get here")
def test_a_server_one_of_whose_threads_a_program_gave_idle_io_is_no_longer_intact() -> None:
    import ctypes
    compile_server = threaded_server()
    ioprio_set = {252: 251, 31: 30}[compile_server_module.IOPRIO_GET]
    idle = 3 << 13  # IOPRIO_CLASS_IDLE, as ionice -c3 -p <tid>
    assert ctypes.CDLL(None, use_errno=True).syscall(ioprio_set, 1, compile_server.tid, idle) == 0
    assert not compile_server.intact()
    compile_server.stop()


def test_no_annotation_processor_plugin_or_options_file_gets_into_the_server() -> None:
    template = ["javac", "-J-Xshare:auto", "-encoding", "UTF-8", "-d", "/tmp/classes"]
    args = compile_server_module.server_arguments([*template, "A.java", "b/C.java"])
    assert args == ["-proc:none", "-implicit:none", "-processorpath", "", "-encoding", "UTF-8",
                    "-d", "/tmp/classes", "A.java", "b/C.java"]
    for source in ("@x.java", "-Xplugin:Evil x.java", "--processor-path=..java"):
        assert compile_server_module.server_arguments([*template, "A.java", source]) is None
    compile_server = server("import sys\nsys.stdin.readline()\nsys.exit(3)")
    assert compile_server.compile([*template, "@x.java"], 10_000, budget()) is None
    assert compile_server.proc is not None and compile_server.proc.poll() is None  # not asked
    compile_server.stop()


def test_only_a_sealed_server_is_spared_and_an_unsealed_one_is_stopped_before_a_step() -> None:
    compile_server = server("import sys\nsys.stdin.readline()")
    assert compile_server.intact() and compile_server.spared() == set()
    compile_server.hold()
    assert compile_server.proc is None


def state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def stopped(pid: int) -> bool:
    """Whether the process is stopped, once a signal sent to it has had time to act."""
    deadline = time.monotonic() + 10
    while state_of(pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.001)
    return state_of(pid) == "T"


def test_a_sealed_server_still_warming_up_is_paused_for_the_step_and_warms_on_after() -> None:
    compile_server = server("import sys\nsys.stdin.readline()")
    compile_server.sealed, compile_server.ready = True, False  # no READY yet
    pid = compile_server.proc.pid
    compile_server.hold()
    assert stopped(pid) and compile_server.spared() == {pid}
    compile_server.release()
    assert state_of(pid) != "T"
    compile_server.stop()


def test_a_sealed_warm_server_stays_up_and_running_through_a_step() -> None:
    compile_server = server("import sys\nsys.stdin.readline()")
    compile_server.sealed = True
    compile_server.hold()
    assert state_of(compile_server.proc.pid) != "T"
    compile_server.release()
    compile_server.stop()


def test_a_server_that_went_is_not_written_to_and_the_compiler_runs_instead() -> None:
    compile_server = server("pass")
    compile_server.proc.wait()
    compile_server.identity = ("a process that went", "", "")  # its pid could be anyone's now
    assert compile_server.compile(["javac", "Main.java"], 10_000, budget()) is None
    assert compile_server.spared() == set()
    compile_server.stop()


def test_a_write_to_a_closed_pipe_is_refused_not_fatal() -> None:
    compile_server = server("import os, time\nos.close(0)\ntime.sleep(30)")
    for _ in range(200):
        if not compile_server.send(b"x" * 65536):
            break
    else:
        pytest.fail("writes to a server that closed its stdin never failed")
    compile_server.stop()

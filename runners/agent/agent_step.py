"""One spawned process of a run (compile or run step) and everything read from it."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import resource
import subprocess
import time
from collections.abc import Callable

from agent_budget import OutputBudget
from agent_protocol import FLUSH_BYTES, FLUSH_SECONDS, Message, emit
from agent_users import Rlimit, as_user, step_rlimits
from agent_zygote_client import Zygote


class Pipes:
    """The agent's ends of a step's pipes (non-blocking), and the child's ends to hand over."""

    def __init__(self, tables: bool) -> None:
        child_in, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
        self.stdout_fd, child_out = os.pipe2(os.O_CLOEXEC)
        self.stderr_fd, child_err = os.pipe2(os.O_CLOEXEC)
        self.child = [child_in, child_out, child_err]
        self.tables_fd: int | None = None
        self.child_tables: int | None = None
        if tables:
            self.tables_fd, self.child_tables = os.pipe2(os.O_CLOEXEC)

    def ours(self) -> list[int]:
        fds = [self.stdin_fd, self.stdout_fd, self.stderr_fd]
        return fds + ([self.tables_fd] if self.tables_fd is not None else [])

    def theirs(self) -> list[int]:
        return self.child + ([self.child_tables] if self.child_tables is not None else [])


def start_process(spec: Message, env: dict[str, str], pipes: Pipes, rlimits: list[Rlimit],
                  zygote: Zygote | None) -> tuple[int, subprocess.Popen[bytes] | None]:
    """Fork the step's process, from the zygote when it asks for one and the zygote can
    (same environment, still alive), else by exec; its pid, and the Popen when exec'd."""
    if pipes.child_tables is not None:
        env = {**env, "CODERUNNER_TABLES_FD": str(pipes.child_tables)}
    if zygote is not None and spec.get("zygote") and zygote.usable(env):
        try:
            pid = zygote.spawn(spec["argv"], env, pipes.child, rlimits)
            if pid:
                return pid, None
        except (OSError, ValueError):
            zygote.stop()  # killed by the previous program, say: exec this time
    pass_fds = (pipes.child_tables,) if pipes.child_tables is not None else ()
    proc = subprocess.Popen(
        spec["argv"], env=env, stdin=pipes.child[0], stdout=pipes.child[1],
        stderr=pipes.child[2], start_new_session=True, close_fds=True, pass_fds=pass_fds,
        preexec_fn=as_user(rlimits),
    )
    return proc.pid, proc


def step_wall_and_cpu(spec: Message, limits: Message) -> tuple[int, int]:
    """A step's wall and CPU limits in ms: its own (``wallMs``, ``cpuMs`` in its spec), else the
    run's."""
    wall_ms = int(spec.get("wallMs") or limits.get("wallMs", 10_000))
    cpu_ms = int(spec.get("cpuMs") or limits.get("cpuMs", 10_000))
    return wall_ms, cpu_ms


class Step:
    """One spawned process (compile or run) and everything read from it; ``Step.spawn``
    starts one."""

    def __init__(self, pid: int, proc: subprocess.Popen[bytes] | None, pipes: Pipes,
                 started: float, wall_ms: int, budget: OutputBudget,
                 kill_all: Callable[[], None]) -> None:
        self.pid = pid
        # Kept so that subprocess never reaps it behind our back (we wait4 for its rusage).
        self.proc = proc
        self.pipes = pipes
        self.stdin_fd, self.stdout_fd, self.stderr_fd = (
            pipes.stdin_fd, pipes.stdout_fd, pipes.stderr_fd)
        self.tables_fd = pipes.tables_fd
        self.tables_buffer = b""
        self.started = started
        self.deadline = started + wall_ms / 1000
        self.budget = budget
        self.kill_all = kill_all  # every user process in the sandbox, at once
        self.decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")("replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")("replace"),
        }
        self.pending: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.pending_bytes = 0
        self.flush_at: float | None = None
        self.stdin_buffer = b""
        self.close_stdin = False
        self.stdin_open = True
        self.exited: tuple[int, resource.struct_rusage] | None = None
        self.ended = self.started
        self.is_run = False
        self.timed_out = self.output_exceeded = self.stopped = False

    @classmethod
    def spawn(cls, spec: Message, env: dict[str, str], limits: Message, budget: OutputBudget,
              zygote: Zygote | None, kill_all: Callable[[], None]) -> Step:
        """Start the step's process (``spec``: argv, and whether to use the zygote and a tables
        pipe) with its pipes; OSError when it cannot be started (no pipe is left open then)."""
        pipes = Pipes(bool(spec.get("tables")))
        wall_ms, cpu_ms = step_wall_and_cpu(spec, limits)
        rlimits = step_rlimits(spec, max(1, -(-cpu_ms // 1000)))
        started = time.monotonic()
        try:
            pid, proc = start_process(spec, env, pipes, rlimits, zygote)
        except BaseException:
            for fd in pipes.ours():
                os.close(fd)
            raise
        finally:
            for fd in pipes.theirs():
                os.close(fd)
        for fd in pipes.ours():
            os.set_blocking(fd, False)
        return cls(pid, proc, pipes, started, wall_ms, budget, kill_all)

    def parent_fds(self) -> list[int]:
        return self.pipes.ours()

    def take_tables(self, data: bytes) -> None:
        """Complete JSON lines from the tables pipe become table events, within the budget."""
        if not self.budget.take_whole(len(data)):
            self.output_exceeded = True
            self.kill()
            return
        self.tables_buffer += data
        while b"\n" in self.tables_buffer:
            line, self.tables_buffer = self.tables_buffer.split(b"\n", 1)
            try:
                table = json.loads(line)
                columns, rows = table["columns"], table["rows"]
            except (ValueError, KeyError, TypeError, RecursionError):
                continue
            if isinstance(columns, list) and isinstance(rows, list):
                self.flush()
                with contextlib.suppress(ValueError):  # NaN or a lone surrogate: not sendable
                    emit({"ev": "table", "columns": [str(c) for c in columns], "rows": rows})

    def kill(self) -> None:
        """SIGKILL every user process, not only the step's group: whatever it started (in new
        sessions, stopped, forking) goes with it."""
        self.kill_all()

    def take_output(self, stream: str, data: bytes) -> None:
        kept = self.budget.take(data)
        if len(kept) < len(data):
            self.output_exceeded = True
            self.kill()
        if kept:
            self.pending[stream].append(kept)
            self.pending_bytes += len(kept)
            if self.flush_at is None:
                self.flush_at = time.monotonic() + FLUSH_SECONDS
        if self.pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self, final: bool = False) -> None:
        for stream, chunks in self.pending.items():
            text = self.decoders[stream].decode(b"".join(chunks), final)
            chunks.clear()
            if text:
                emit({"ev": "out", "stream": stream, "data": text})
        self.pending_bytes = 0
        self.flush_at = None

    def close_stdin_pipe(self) -> None:
        if self.stdin_open:
            os.close(self.stdin_fd)
            self.stdin_open = False

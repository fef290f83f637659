"""One spawned process of a run (compile or run step) and everything read from it."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import time
from collections.abc import Callable

from agent_helpers import Zygote
from agent_protocol import FLUSH_BYTES, FLUSH_SECONDS, emit
from agent_users import user_process


class Step:
    """One spawned process (compile or run) and everything read from it."""

    def __init__(self, spec: dict, env: dict, limits: dict, budget: list[int],
                 zygote: Zygote | None, kill_all: Callable[[], None]) -> None:
        self.kill_all = kill_all  # every user process in the sandbox, at once
        self.budget = budget  # [bytes of output still allowed], shared by the steps of a run
        child_in, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
        self.stdout_fd, child_out = os.pipe2(os.O_CLOEXEC)
        self.stderr_fd, child_err = os.pipe2(os.O_CLOEXEC)
        self.tables_fd: int | None = None
        self.tables_buffer = b""
        pass_fds: tuple[int, ...] = ()
        if spec.get("tables"):
            self.tables_fd, child_tables = os.pipe2(os.O_CLOEXEC)
            pass_fds = (child_tables,)
            env = {**env, "CODERUNNER_TABLES_FD": str(child_tables)}
        self.started = time.monotonic()
        cpu_s = max(1, -(-limits.get("cpuMs", 10_000) // 1000))
        # Kept so that subprocess never reaps it behind our back (we wait4 for its rusage).
        self.proc: subprocess.Popen | None = None
        try:
            self.pid = 0
            if zygote is not None and spec.get("zygote") and zygote.usable(env):
                try:
                    self.pid = zygote.spawn(spec["argv"], env, [child_in, child_out, child_err],
                                            cpu_s)
                except (OSError, ValueError):
                    zygote.stop()  # killed by the previous program, say: exec this time
            if not self.pid:
                self.proc = subprocess.Popen(
                    spec["argv"], env=env, stdin=child_in, stdout=child_out,
                    stderr=child_err, start_new_session=True, close_fds=True,
                    pass_fds=pass_fds, **user_process(cpu_s),
                )
                self.pid = self.proc.pid
        except BaseException:
            for fd in self.parent_fds():
                os.close(fd)
            raise
        finally:
            for fd in (child_in, child_out, child_err, *pass_fds):
                os.close(fd)
        for fd in self.parent_fds():
            os.set_blocking(fd, False)
        self.deadline = self.started + limits.get("wallMs", 10_000) / 1000
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
        self.exited: tuple[int, object] | None = None
        self.ended = self.started
        self.is_run = False
        self.timed_out = self.output_exceeded = self.stopped = False

    def parent_fds(self) -> list[int]:
        fds = [self.stdin_fd, self.stdout_fd, self.stderr_fd]
        return fds + ([self.tables_fd] if self.tables_fd is not None else [])

    def take_tables(self, data: bytes) -> None:
        """Complete JSON lines from the tables pipe become table events, within the budget."""
        if len(data) > self.budget[0]:
            self.output_exceeded = True
            self.kill()
            return
        self.budget[0] -= len(data)
        self.tables_buffer += data
        while b"\n" in self.tables_buffer:
            line, self.tables_buffer = self.tables_buffer.split(b"\n", 1)
            try:
                table = json.loads(line)
                columns, rows = table["columns"], table["rows"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(columns, list) and isinstance(rows, list):
                self.flush()
                emit({"ev": "table", "columns": [str(c) for c in columns], "rows": rows})

    def kill(self) -> None:
        """SIGKILL every user process, not only the step's group: whatever it started (in new
        sessions, stopped, forking) goes with it."""
        self.kill_all()

    def take_output(self, stream: str, data: bytes) -> None:
        allowed = self.budget[0]
        if len(data) > allowed:
            data = data[:allowed]
            self.output_exceeded = True
            self.kill()
        self.budget[0] -= len(data)
        if data:
            self.pending[stream].append(data)
            self.pending_bytes += len(data)
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

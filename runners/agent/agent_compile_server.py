"""A warm compiler the agent keeps in a sandbox for compile steps (e.g. JavacServer)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from agent_budget import OutputBudget
from agent_protocol import Message, emit, signal_name
from agent_stats import process_cpu_ms, process_peak_kb
from agent_users import as_user


class CompileServer:
    """A warm compiler (e.g. JavacServer) that compiles on request over its stdin and stdout.

    It runs only between runs: started when the container is prepared and after each reset,
    stopped before a program runs, so no program ever shares the container with it. It reads
    the user's sources, so it runs as the sandbox user, not as a platform process.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=as_user(),
        )
        self.ready = False

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.forget()

    def forget(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout) if self.proc else ():
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc, self.ready = None, False

    def usable(self, timeout: float) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        if not self.ready:
            self.ready = self.read_line(timeout) == b"READY\n"
        return self.ready

    def read_line(self, timeout: float) -> bytes | None:
        """A line, b"" at end of file, None when nothing came within timeout."""
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else None

    def compile(self, argv: list[str], wall_ms: int, budget: OutputBudget) -> Message | None:
        """Compile with the server; None when it cannot, or is still warming up (a plain
        compiler run is then quicker than waiting): the caller runs the compiler."""
        if not self.usable(timeout=0):
            return None
        assert self.proc is not None and self.proc.stdin is not None
        args = [a for a in argv[1:] if not a.startswith("-J")]
        started, cpu_before = time.monotonic(), process_cpu_ms(self.proc.pid)
        self.proc.stdin.write("\0".join(args).encode() + b"\n")
        self.proc.stdin.flush()
        header = self.read_line(wall_ms / 1000)
        took_ms = round((time.monotonic() - started) * 1000)
        cpu_ms = process_cpu_ms(self.proc.pid) - cpu_before
        if header is None or not header.startswith(b"EXIT "):
            return self.failed(took_ms, cpu_ms, timed_out=header is None)
        _, code, length = header.split()
        assert self.proc.stdout is not None
        diagnostics = self.proc.stdout.read(int(length))
        kept = budget.take(diagnostics)
        if kept:
            emit({"ev": "out", "stream": "stderr", "data": kept.decode(errors="replace")})
        return {"ev": "done", "exitCode": int(code), "signal": None, "wallMs": took_ms,
                "cpuMs": cpu_ms, "memoryKb": process_peak_kb(self.proc.pid), "timedOut": False,
                "outputExceeded": len(kept) < len(diagnostics), "stopped": False, "oom": False,
                "error": None}

    def failed(self, wall_ms: int, cpu_ms: int, timed_out: bool) -> Message:
        """The server gave no answer: still working at the wall limit (a timeout), or it died
        (crashed, killed by the OOM killer): then its own exit code or signal is reported."""
        assert self.proc is not None
        peak_kb = process_peak_kb(self.proc.pid)
        code: int | None
        sig: str | None
        if timed_out:
            self.stop()
            code, sig = None, "SIGKILL"
        else:
            try:
                status = self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:  # it said something else than a result
                self.stop()
                status = -signal.SIGKILL
            code, sig = (status, None) if status >= 0 else (None, signal_name(-status))
            self.forget()
            emit({"ev": "out", "stream": "stderr",
                  "data": f"the compile server ended unexpectedly ({sig or f'exit {code}'})\n"})
        return {"ev": "done", "exitCode": code, "signal": sig, "wallMs": wall_ms,
                "cpuMs": cpu_ms, "memoryKb": peak_kb, "timedOut": timed_out,
                "outputExceeded": False, "stopped": False, "oom": False, "error": None}

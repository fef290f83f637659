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
from agent_users import as_sandbox_user, become_sandbox_user

Identity = tuple[str, str, str]
"""A live process as /proc/<pid>/stat tells it: its start time, niceness and scheduling policy:
the same pid with another identity is another process, or one whose scheduling was changed.
(Its limits are left out: the JVM may raise its own open-files limit as it starts, and a program
that lowers the server's only makes its own owner's compiles fail.)"""


def identity_of(pid: int) -> Identity | None:
    """The process's identity, None when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return None
        # fields[0] is stat's 3rd field (the state): start time is its 22nd, niceness its 19th,
        # scheduling policy its 41st
        return (fields[19], fields[16], fields[38])
    except (OSError, IndexError):
        return None


def first_to_go() -> None:
    """In the server's process before it execs: the OOM killer's first choice in the sandbox
    (it shares the program's memory limit, and losing it only makes the next compile a plain
    one), then the sandbox user."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    become_sandbox_user()


def reachable(pid: int) -> bool:
    """Whether the sandbox user could reach into the process (trace it, read its memory, open
    its pipes): tried by opening its environment with that user's rights. Called only while no
    user process is alive (``as_sandbox_user``)."""
    with as_sandbox_user():
        try:
            with open(f"/proc/{pid}/environ", "rb"):
                return True
        except PermissionError:
            return False
        except OSError:
            return True  # gone, say: not shown to be out of reach


class CompileServer:
    """A warm compiler (e.g. JavacServer) that compiles on request over its stdin and stdout.

    It runs as the sandbox user (it reads the user's sources) and is started when the container
    is prepared. It stays up across the runs of the container's owner (a container is only ever
    reused for its owner), beside their programs, when it is *sealed*: started from a binary the
    sandbox user cannot read (``javac-server``), the kernel makes it not dumpable, so a program
    (same uid) cannot trace it, read or write its memory or open its pipes; this is checked after
    each start, as that user. Programs can still signal or renice it: a server that died, or whose
    niceness or scheduling changed (its identity), is not used, is killed with the user's
    processes and started again at the reset. A server that is not sealed (the check failed)
    is stopped before each program and started again at the reset, as before; one still warming
    up when a program starts is paused until it ends. So no program shares the container with a
    server it could reach into, nor with one taking CPU from it unless it wakes it up itself.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        self.sealed = False
        self.held = False
        self.identity: Identity | None = None

    def start(self) -> None:
        """Start it (only while no user process is alive: the seal check runs as the user)."""
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=first_to_go,
            )
        except OSError:  # an image without the server: compiles run the compiler
            self.proc = None
            return
        self.ready = False
        self.identity = identity_of(self.proc.pid)
        self.sealed = not reachable(self.proc.pid)

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
        self.proc, self.ready, self.identity = None, False, None

    def intact(self) -> bool:
        """Alive, and the very process started (not one that reuses its pid), unchanged."""
        return self.proc is not None and self.identity is not None and \
            identity_of(self.proc.pid) == self.identity

    def spared(self) -> set[int]:
        """Its pid when it may outlive user code (sealed and intact), else nothing."""
        return {self.proc.pid} if self.proc is not None and self.sealed and self.intact() \
            else set()

    def hold(self) -> None:
        """Before a step's process starts (a program, or the compiler when the server was not
        warm): a server that is not sealed and intact is stopped; one still warming up is
        paused (SIGSTOP) so that it takes no CPU from the step, and warms on between runs."""
        if not (self.sealed and self.intact()):
            self.stop()
        elif not self.usable(timeout=0) and self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.held = True

    def release(self) -> None:
        """After the step: a paused server warms on."""
        if self.held and self.proc is not None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.held = False

    def usable(self, timeout: float) -> bool:
        if self.proc is None or not self.intact():
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
        if not self.send("\0".join(args).encode() + b"\n"):
            self.stop()  # it went (a program killed it, say): the caller runs the compiler
            return None
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

    def send(self, request: bytes) -> bool:
        """Write a request; False when the server is gone (the agent dies of SIGPIPE
        otherwise, which it keeps for its own stdout)."""
        assert self.proc is not None and self.proc.stdin is not None
        previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
            return True
        except BrokenPipeError:
            return False
        finally:
            signal.signal(signal.SIGPIPE, previous)

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

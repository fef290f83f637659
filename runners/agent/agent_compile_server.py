"""A warm compiler the agent keeps in a sandbox for compile steps (e.g. JavacServer)."""

from __future__ import annotations

import os
import platform
import select
import signal
import subprocess
import time

from agent_budget import OutputBudget
from agent_protocol import Message, emit
from agent_stats import process_cpu_ms, process_peak_kb
from agent_users import as_sandbox_user, become_sandbox_user

Identity = tuple[str, str, str]
"""A live process as /proc/<pid>/stat tells it: its start time, niceness and scheduling policy:
the same pid with another identity is another process, or one whose scheduling was changed."""

ThreadSettings = tuple[str, str, frozenset[int], int]
"""A thread's niceness, scheduling policy, CPU affinity and I/O priority: what a program of the
same user may change of any one of the server's threads (setpriority, sched_setscheduler,
sched_setaffinity, ioprio_set on its thread ids)."""

Settings = tuple[str, frozenset[ThreadSettings]]
"""A process's limits (/proc/<pid>/limits: a program of the same user may lower them with
prlimit, not being dumpable does not stop that) and the settings its threads have."""

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}.get(platform.machine())


def io_priority(tid: int) -> int:
    """The thread's I/O priority (ioprio_get; 0 where the agent cannot ask)."""
    if IOPRIO_GET is None:
        return 0
    try:
        import ctypes
        return int(ctypes.CDLL(None, use_errno=True).syscall(IOPRIO_GET, 1, tid))
    except (ImportError, OSError, AttributeError):
        return 0


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


def settings_of(pid: int) -> Settings | None:
    """The process's limits and the distinct settings of its threads (a thread that ends while
    they are read is left out); None when the process is gone."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            limits = f.read()
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    threads: set[ThreadSettings] = set()
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            affinity = frozenset(os.sched_getaffinity(int(tid)))
        except (OSError, IndexError):
            continue  # ended meanwhile
        threads.add((fields[16], fields[38], affinity, io_priority(int(tid))))
    return limits, frozenset(threads)


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
    its pipes): tried by opening its environment, its memory and its stdin with that user's
    rights; out of reach only when each is refused. Called only while no user process is alive
    (``as_sandbox_user``)."""
    with as_sandbox_user():
        for what in ("environ", "mem", "fd/0"):
            try:
                with open(f"/proc/{pid}/{what}", "rb"):
                    return True
            except PermissionError:
                continue
            except OSError:
                return True  # gone, say: not shown to be out of reach
        return False


class CompileServer:
    """A warm compiler (e.g. JavacServer) that compiles on request over its stdin and stdout.

    It runs as the sandbox user (it reads the user's sources) and is started when the container
    is prepared. It stays up across the runs of the container's owner (a container is only ever
    reused for its owner), beside their programs, when it is *sealed*: started from a binary the
    sandbox user cannot read (``javac-server``), the kernel makes it not dumpable, so a program
    (same uid) cannot trace it, read or write its memory or open its pipes; this is checked after
    each start, as that user. Programs can still signal it, renice it or change its limits
    (prlimit), or any of its threads' scheduling, CPU affinity or I/O priority: a server that died,
    or that is not as it started in any of these (its identity and settings, recorded when it
    starts, checked before each use and at each reset), is not used, is killed with the user's
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
        self.settings: Settings | None = None

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
        self.settings = settings_of(self.proc.pid)
        if self.settings is not None and len(self.settings[1]) != 1:
            self.settings = None  # its one thread as it started: anything else is not known
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
        self.proc, self.ready, self.identity, self.settings = None, False, None, None

    def intact(self) -> bool:
        """Alive, and the very process started (not one that reuses its pid), unchanged: its
        limits as when it started, and each of its threads scheduled as it started."""
        if self.proc is None or self.identity is None or self.settings is None:
            return False
        return identity_of(self.proc.pid) == self.identity and \
            settings_of(self.proc.pid) == self.settings

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
        """Compile with the server; None when it cannot, is still warming up (a plain
        compiler run is then quicker than waiting), or ended without an answer (killed by a
        program or the OOM killer, crashed): the caller runs the compiler. No annotation
        processor or plugin runs in it (it outlives the run), and no argument that the compiler
        could read as options (an ``@file``, a source file named ``-...``) reaches it."""
        args = server_arguments(argv)
        if args is None or not self.usable(timeout=0):
            return None
        assert self.proc is not None and self.proc.stdin is not None
        started, cpu_before = time.monotonic(), process_cpu_ms(self.proc.pid)
        if not self.send("\0".join(args).encode() + b"\n"):
            self.stop()  # it went (a program killed it, say): the caller runs the compiler
            return None
        header = self.read_line(wall_ms / 1000)
        took_ms = round((time.monotonic() - started) * 1000)
        cpu_ms = process_cpu_ms(self.proc.pid) - cpu_before
        if header is None:
            return self.timed_out(took_ms, cpu_ms)
        if not header.startswith(b"EXIT "):
            self.stop()  # it ended, or said something else than a result
            return None
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

    def timed_out(self, wall_ms: int, cpu_ms: int) -> Message:
        """The server was still working at the wall limit: the compile timed out."""
        assert self.proc is not None
        peak_kb = process_peak_kb(self.proc.pid)
        self.stop()
        return {"ev": "done", "exitCode": None, "signal": "SIGKILL", "wallMs": wall_ms,
                "cpuMs": cpu_ms, "memoryKb": peak_kb, "timedOut": True,
                "outputExceeded": False, "stopped": False, "oom": False, "error": None}


SERVER_OPTIONS = ["-proc:none", "-implicit:none", "-processorpath", ""]
"""Before a request's own: no annotation processing, no plugin found (an empty processor path,
where javac looks for plugins too: by default it is the class path, the user's files), no class
file written for a source javac finds by itself."""


def server_arguments(argv: list[str]) -> list[str] | None:
    """The compiler's arguments as sent to the server (its -J options are the JVM's, which is
    already running), None when one is an ``@file`` or a source file whose name javac would take
    for an option: such a compile runs the compiler, which ends with it."""
    args = [a for a in argv[1:] if not a.startswith("-J")]
    if any(a.startswith("@") or (a.startswith("-") and a.endswith(".java")) for a in args):
        return None
    return SERVER_OPTIONS + args

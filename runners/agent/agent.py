"""The resident agent inside every sandbox container (stdlib only, Python 3.11).

It is baked read-only into the image at /opt/coderunner/agent.py and is the container's PID 1:
user code (same uid) cannot signal it, it reaps orphans, and it makes itself non-dumpable so
that user code can neither ptrace it nor open /proc/1/fd to forge events on its stdout, which
no other process holds. The runner talks to it over the container's attach stream: JSON lines
on the agent's stdin (commands) and stdout (events). The host never touches the container's
file system: the agent writes the program's files itself, spawns the compile and run steps,
streams their output in coalesced chunks, forwards stdin, enforces the wall-clock and output
limits by killing the process group, and reports exit code, signal, wall time, CPU time and
peak memory.

Commands:  {"op":"run", "files":[...], "steps":[{"phase","argv","zygote"?}], "env":{}, "stdin":"",
            "closeStdin":bool, "limits":{"wallMs","cpuMs","outputBytes"}}
           {"op":"prepare","zygote":{"argv","env"}?,"compileServer":{"argv","env"}?}
             (a warm interpreter for run steps, a warm compiler for compile steps)
           {"op":"stdin","data":"..."}  {"op":"eof"}  {"op":"stop"}  {"op":"reset"}  {"op":"ping"}
Events:    {"ev":"ready"}  {"ev":"out","stream":"stdout|stderr","data":"..."}
           {"ev":"table","columns":[...],"rows":[[...]]}  (from a step with "tables": true)
           {"ev":"done","phase","exitCode","signal","wallMs","cpuMs","memoryKb","timedOut",
            "outputExceeded","stopped","oom","error"}   {"ev":"reset","ok":bool}  {"ev":"pong"}
"""

from __future__ import annotations

import array
import codecs
import collections
import ctypes
import json
import os
import resource
import select
import selectors
import signal
import socket
import stat
import subprocess
import sys
import time

WORKSPACE = "/workspace"
SCRATCH = "/tmp"
FLUSH_BYTES = 16384
FLUSH_SECONDS = 0.005
READ_BYTES = 65536
DRAIN_SECONDS = 0.2
ZYGOTE_WAIT_S = 2.0
LIVE_COMMANDS = ("stdin", "eof", "stop", "ping")
OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")


def emit(event: dict) -> None:
    data = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def make_undumpable() -> None:
    """Deny user code (same uid) ptrace and /proc/<agent>/fd access, so it cannot forge events."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def oom_kills() -> int:
    for path in OOM_FILES:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


def name_problem(name: str) -> str | None:
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        return "must be a relative path without NUL or backslash"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "must not contain empty, '.' or '..' segments"
    return None


def write_files(files: list[dict]) -> None:
    for entry in files:
        name = entry["name"]
        problem = name_problem(name)
        if problem:
            raise ValueError(f"file name {name!r} {problem}")
        parent = os.path.dirname(name)
        if parent:
            os.makedirs(os.path.join(WORKSPACE, parent), mode=0o755, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(os.path.join(WORKSPACE, name), flags, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(entry["content"].encode())


def wipe(directory: str) -> None:
    """Remove everything under directory without following links (user code may plant them)."""
    for root, dirs, _files in os.walk(directory):
        for d in dirs:
            path = os.path.join(root, d)
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, 0o700)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if stat.S_ISDIR(os.lstat(path).st_mode):
            for root, dirs, files in os.walk(path, topdown=False):
                for f in files:
                    os.unlink(os.path.join(root, f))
                for d in dirs:
                    sub = os.path.join(root, d)
                    if stat.S_ISLNK(os.lstat(sub).st_mode):
                        os.unlink(sub)
                    else:
                        os.rmdir(sub)
            os.rmdir(path)
        else:
            os.unlink(path)


def kill_leftovers(spare: int | None = None) -> None:
    """SIGKILL every process but the agent (and ``spare``, the zygote), then reap.

    With a process to spare, everything is first frozen with SIGSTOP so that nothing can fork
    while the survivors are looked up and killed one by one.
    """
    for _ in range(20):
        try:
            os.kill(-1, signal.SIGKILL if spare is None else signal.SIGSTOP)
        except ProcessLookupError:
            break
        others = [pid for pid in process_ids() if pid not in (os.getpid(), spare)]
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if spare is not None:
            os.kill(spare, signal.SIGCONT)
        reap(spare)
        if not others and spare is not None:
            break
        time.sleep(0.001)
    reap(spare)


def wait_for(pid: int) -> tuple[int, int, resource.struct_rusage]:
    """wait4 for a step; a zygote's program may still be on its way to being our child."""
    for _ in range(2000):
        try:
            return os.wait4(pid, 0)
        except ChildProcessError:
            time.sleep(0.0005)
    return os.wait4(pid, 0)


def process_ids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def reap(spare: int | None = None) -> None:
    """Reap exited orphans (the agent is the container's PID 1), leaving ``spare`` to its owner."""
    while True:
        try:
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if found is None or found.si_pid == spare:
            return
        os.waitpid(found.si_pid, 0)


class Zygote:
    """A warm interpreter (runners/agent/zygote.py) that forks programs on request."""

    def __init__(self, argv: list[str], env: dict) -> None:
        self.argv, self.env = argv, env
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.ready = False

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
            actions.append((os.POSIX_SPAWN_DUP2, theirs.fileno(), 3))
            self.pid = os.posix_spawnp(self.argv[0], self.argv, self.env,
                                       file_actions=actions, setsid=True)
        finally:
            os.close(devnull)
            theirs.close()
        self.sock, self.ready = ours, False

    def usable(self, env: dict) -> bool:
        if self.sock is None or env != self.env:
            return False
        if not self.ready:
            self.sock.settimeout(ZYGOTE_WAIT_S)
            try:
                self.ready = self.sock.recv(1) == b"R"
            except OSError:
                self.ready = False
            if not self.ready:
                self.stop()
        return self.ready

    def spawn(self, argv: list[str], env: dict, fds: list[int]) -> int:
        assert self.sock is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": WORKSPACE}).encode()
        self.sock.settimeout(ZYGOTE_WAIT_S)
        rights = array.array("i", fds).tobytes()
        self.sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = self.sock.recv(32)
            if not chunk:
                raise OSError("the zygote went away")
            answer += chunk
        return int(answer)

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.sock, self.pid, self.ready = None, None, False

    def alive(self) -> bool:
        return self.sock is not None


class CompileServer:
    """A warm compiler (e.g. JavacServer) that compiles on request over its stdin and stdout.

    It runs only between runs: started when the container is prepared and after each reset,
    stopped before a program runs, so no program ever shares the container with it.
    """

    def __init__(self, argv: list[str], env: dict) -> None:
        self.argv, self.env = argv, env
        self.proc: subprocess.Popen | None = None
        self.ready = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, cwd=WORKSPACE, env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.ready = False

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc, self.ready = None, False

    def usable(self, timeout: float) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        if not self.ready:
            self.ready = self.read_line(timeout) == b"READY\n"
        return self.ready

    def read_line(self, timeout: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else b""

    def compile(self, argv: list[str], limits: dict, budget: list[int]) -> dict | None:
        """Compile with the server; None when it cannot, or is still warming up (a plain
        compiler run is then quicker than waiting): the caller runs the compiler."""
        if not self.usable(timeout=0):
            return None
        assert self.proc is not None and self.proc.stdin is not None
        args = [a for a in argv[1:] if not a.startswith("-J")]
        started, cpu_before = time.monotonic(), process_cpu_ms(self.proc.pid)
        self.proc.stdin.write("\0".join(args).encode() + b"\n")
        self.proc.stdin.flush()
        header = self.read_line(limits.get("wallMs", 10_000) / 1000)
        wall_ms = round((time.monotonic() - started) * 1000)
        cpu_ms = process_cpu_ms(self.proc.pid) - cpu_before
        if not header.startswith(b"EXIT "):
            self.stop()
            return {"ev": "done", "exitCode": None, "signal": "SIGKILL", "wallMs": wall_ms,
                    "cpuMs": cpu_ms, "memoryKb": 0, "timedOut": True, "outputExceeded": False,
                    "stopped": False, "oom": False, "error": None}
        _, code, length = header.split()
        assert self.proc.stdout is not None
        diagnostics = self.proc.stdout.read(int(length))
        exceeded = len(diagnostics) > budget[0]
        diagnostics = diagnostics[: budget[0]]
        budget[0] -= len(diagnostics)
        if diagnostics:
            emit({"ev": "out", "stream": "stderr", "data": diagnostics.decode(errors="replace")})
        return {"ev": "done", "exitCode": int(code), "signal": None, "wallMs": wall_ms,
                "cpuMs": cpu_ms, "memoryKb": process_peak_kb(self.proc.pid), "timedOut": False,
                "outputExceeded": exceeded, "stopped": False, "oom": False, "error": None}


def process_cpu_ms(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0


def process_peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Step:
    """One spawned process (compile or run) and everything read from it."""

    def __init__(self, spec: dict, env: dict, limits: dict, budget: list[int],
                 zygote: Zygote | None) -> None:
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
        # Kept so that subprocess never reaps it behind our back (we wait4 for its rusage).
        self.proc: subprocess.Popen | None = None
        try:
            self.pid = 0
            if zygote is not None and spec.get("zygote") and zygote.usable(env):
                try:
                    self.pid = zygote.spawn(spec["argv"], env, [child_in, child_out, child_err])
                except (OSError, ValueError):
                    zygote.stop()  # killed by the previous program, say: exec this time
            if not self.pid:
                self.proc = subprocess.Popen(
                    spec["argv"], cwd=WORKSPACE, env=env, stdin=child_in, stdout=child_out,
                    stderr=child_err, start_new_session=True, close_fds=True,
                    pass_fds=pass_fds,
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
        cpu_s = max(1, -(-limits.get("cpuMs", 10_000) // 1000))
        try:
            resource.prlimit(self.pid, resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        except (ProcessLookupError, PermissionError):
            pass
        self.pidfd = os.pidfd_open(self.pid)
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
        """SIGKILL the step's process group, and the process itself in case a zygote's program
        has not made its own group yet."""
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

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


class Agent:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.control_buffer = b""
        self.commands: collections.deque[dict] = collections.deque()
        self.step: Step | None = None
        self.zygote: Zygote | None = None
        self.compile_server: CompileServer | None = None
        self.stop_requested = False
        self.eof = False
        self.early_stdin = b""  # stdin that arrived before the run step started
        self.early_eof = False

    # --- control channel ---------------------------------------------------------------------

    def serve(self) -> None:
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, "control")
        emit({"ev": "ready", "pid": os.getpid()})
        while not self.eof:
            for _key, _ in self.selector.select(1.0):
                self.read_control()
            while self.commands:
                self.handle(self.commands.popleft())
            reap()

    def read_control(self) -> None:
        try:
            chunk = os.read(0, READ_BYTES)
        except BlockingIOError:
            return
        if not chunk:
            self.eof = True
            if self.step:
                self.step.kill()
            return
        self.control_buffer += chunk
        while b"\n" in self.control_buffer:
            line, self.control_buffer = self.control_buffer.split(b"\n", 1)
            if line.strip():
                self.commands.append(json.loads(line))

    def handle_live_commands(self) -> None:
        """During a run: stdin, eof, stop and ping act at once; anything else waits its turn."""
        while self.commands and self.commands[0].get("op") in LIVE_COMMANDS:
            self.handle(self.commands.popleft())

    def handle(self, command: dict) -> None:
        op = command.get("op")
        if op == "run":
            self.run(command)
        elif op == "stdin":
            self.add_stdin(command.get("data", "").encode(), eof=False)
        elif op == "eof":
            self.add_stdin(b"", eof=True)
        elif op == "stop":
            self.stop_requested = True
            if self.step:
                self.step.stopped = True
                self.step.kill()
        elif op == "prepare":
            self.prepare(command)
        elif op == "reset":
            self.reset()
        elif op == "ping":
            emit({"ev": "pong"})

    def prepare(self, command: dict) -> None:
        """Start the runtime's helpers: a Python zygote, a warm compile server."""
        ok = True
        if "zygote" in command:
            spec = command["zygote"]
            self.zygote = Zygote(spec["argv"], spec["env"])
            self.zygote.start()
            ok = self.zygote.usable(spec["env"])
        if "compileServer" in command:
            spec = command["compileServer"]
            self.compile_server = CompileServer(spec["argv"], spec["env"])
            self.compile_server.start()
        emit({"ev": "prepared", "ok": ok})

    def add_stdin(self, data: bytes, eof: bool) -> None:
        step = self.step
        if step is not None and step.is_run:
            step.stdin_buffer += data
            step.close_stdin = step.close_stdin or eof
            self.want_stdin_write()
        else:
            self.early_stdin += data
            self.early_eof = self.early_eof or eof

    def reset(self) -> None:
        """Kill every process but the agent and the zygote (which user code can neither trace
        nor read: it is non-dumpable), wipe the workspace and /tmp."""
        try:
            zygote = self.zygote
            kill_leftovers(spare=zygote.pid if zygote and zygote.alive() else None)
            wipe(WORKSPACE)
            wipe(SCRATCH)
            if zygote is not None and not zygote.alive():
                zygote.start()
            if self.compile_server is not None:
                self.compile_server.stop()
                self.compile_server.start()  # warms up while nobody waits for it
            emit({"ev": "reset", "ok": True})
        except OSError as exc:
            emit({"ev": "reset", "ok": False, "error": str(exc)})

    # --- running a program -------------------------------------------------------------------

    def run(self, command: dict) -> None:
        self.stop_requested = False
        self.early_stdin, self.early_eof = b"", False
        try:
            write_files(command.get("files", []))
        except (OSError, ValueError) as exc:
            emit({"ev": "done", "phase": "setup", "error": str(exc)})
            return
        env = command.get("env", {})
        limits = command.get("limits", {})
        budget = [int(limits.get("outputBytes", 1 << 20))]
        steps = command.get("steps", [])
        for index, spec in enumerate(steps):
            last = index == len(steps) - 1
            result = None
            if spec.get("server") and self.compile_server is not None:
                result = self.compile_server.compile(spec["argv"], limits, budget)
            if self.compile_server is not None:
                self.compile_server.stop()  # never alongside the program
            if result is None:
                result = self.run_step(spec, env, limits, budget, command if last else None)
            result["phase"] = spec["phase"]
            if last or result.get("exitCode") != 0 or self.stop_requested or self.eof:
                emit(result)
                return

    def run_step(
        self, spec: dict, env: dict, limits: dict, budget: list[int], run: dict | None
    ) -> dict:
        ooms_before = oom_kills()
        try:
            step = Step(spec, env, limits, budget, self.zygote)
        except OSError as exc:
            return {"ev": "done", "error": f"cannot start {spec['argv'][0]}: {exc.strerror}",
                    "exitCode": 127}
        self.step = step
        if run is not None:
            step.is_run = True
            step.stdin_buffer = run.get("stdin", "").encode() + self.early_stdin
            step.close_stdin = bool(run.get("closeStdin", True)) or self.early_eof
        else:
            step.close_stdin = True
        if self.stop_requested:
            step.stopped = True
            step.kill()
        self.selector.register(step.stdout_fd, selectors.EVENT_READ, "stdout")
        self.selector.register(step.stderr_fd, selectors.EVENT_READ, "stderr")
        self.selector.register(step.pidfd, selectors.EVENT_READ, "exit")
        if step.tables_fd is not None:
            self.selector.register(step.tables_fd, selectors.EVENT_READ, "tables")
        self.want_stdin_write()
        self.pump(step)
        self.step = None
        return self.result(step, ooms_before)

    def want_stdin_write(self) -> None:
        step = self.step
        if step is None or not step.stdin_open:
            return
        if step.stdin_buffer or step.close_stdin:
            try:
                self.selector.register(step.stdin_fd, selectors.EVENT_WRITE, "stdin")
            except KeyError:
                pass

    def pump(self, step: Step) -> None:
        open_streams = {"stdout", "stderr"} | ({"tables"} if step.tables_fd is not None else set())
        drain_until: float | None = None
        while open_streams or step.exited is None:
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                break
            if step.exited is None and now >= step.deadline and not step.timed_out:
                step.timed_out = True
                step.kill()
            self.handle_live_commands()
            timeout = self.next_timeout(step, now, drain_until)
            for key, _ in self.selector.select(timeout):
                self.on_ready(step, key, open_streams)
            self.handle_live_commands()
            reap(spare=step.pid if step.exited is None else None)
            if step.flush_at is not None and time.monotonic() >= step.flush_at:
                step.flush()
            if step.exited is not None and drain_until is None:
                step.kill()  # the main process is gone: its group goes with it
                drain_until = time.monotonic() + DRAIN_SECONDS
            if self.eof:
                step.kill()
        self.unregister_step(step)
        step.flush(final=True)

    def next_timeout(self, step: Step, now: float, drain_until: float | None) -> float:
        marks = [step.deadline if step.exited is None and not step.timed_out else now + 1]
        if step.flush_at is not None:
            marks.append(step.flush_at)
        if drain_until is not None:
            marks.append(drain_until)
        return max(0.0, min(marks) - now)

    def on_ready(self, step: Step, key: selectors.SelectorKey, open_streams: set[str]) -> None:
        kind = key.data
        if kind == "control":
            self.read_control()
        elif kind == "exit":
            _, status, usage = wait_for(step.pid)
            if step.proc is not None:
                step.proc.returncode = os.waitstatus_to_exitcode(status)
            step.exited = (status, usage)
            step.ended = time.monotonic()
            self.selector.unregister(step.pidfd)
        elif kind == "stdin":
            self.write_stdin(step)
        else:
            self.read_stream(step, key.fd, kind, open_streams)

    def read_stream(self, step: Step, fd: int, kind: str, open_streams: set[str]) -> None:
        try:
            data = os.read(fd, READ_BYTES)
        except BlockingIOError:
            return
        if data and kind == "tables":
            step.take_tables(data)
        elif data:
            # A compiler's output is all diagnostics: it goes to the user's stderr.
            step.take_output(kind if step.is_run else "stderr", data)
        else:
            self.selector.unregister(fd)
            open_streams.discard(kind)

    def write_stdin(self, step: Step) -> None:
        try:
            if step.stdin_buffer:
                written = os.write(step.stdin_fd, step.stdin_buffer[:65536])
                step.stdin_buffer = step.stdin_buffer[written:]
        except BlockingIOError:
            return
        except OSError:  # the program closed its stdin
            step.stdin_buffer = b""
            step.close_stdin = True
        if not step.stdin_buffer:
            self.selector.unregister(step.stdin_fd)
            if step.close_stdin:
                step.close_stdin_pipe()

    def unregister_step(self, step: Step) -> None:
        for fd in (*step.parent_fds(), step.pidfd):
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        for fd in step.parent_fds()[1:]:
            os.close(fd)
        step.close_stdin_pipe()
        os.close(step.pidfd)

    def result(self, step: Step, ooms_before: int) -> dict:
        assert step.exited is not None
        status, usage = step.exited
        ended = step.ended
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return {
            "ev": "done",
            "exitCode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": signal.Signals(sig).name if sig else None,
            "wallMs": round((ended - step.started) * 1000),
            "cpuMs": round((usage.ru_utime + usage.ru_stime) * 1000),
            "memoryKb": usage.ru_maxrss,
            "timedOut": step.timed_out,
            "outputExceeded": step.output_exceeded,
            "stopped": step.stopped,
            "oom": oom_kills() > ooms_before,
            "error": None,
        }


def main() -> None:
    if os.getuid() == 0:
        # kill(-1) in reset would take the whole machine with it: never run as root.
        sys.exit("the agent runs only as the unprivileged sandbox user, inside a sandbox")
    make_undumpable()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.makedirs(WORKSPACE, exist_ok=True)
    Agent().serve()


if __name__ == "__main__":
    sys.exit(main())

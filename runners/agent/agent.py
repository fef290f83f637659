"""The resident agent inside every sandbox container (stdlib only, Python 3.11).

It is baked read-only into the image at /opt/coderunner/agent.py and is the container's PID 1.
It runs as container root with only the capabilities SETUID, SETGID and KILL (the runner drops
all others; no-new-privileges and the default seccomp profile stay), and starts everything that
runs user code as the sandbox user (agent_users.py): user code cannot signal, ptrace, prlimit,
renice or reschedule the agent or the zygote, nor open /proc/1/fd to forge events on the
agent's stdout, which no other process holds; the agent also makes itself non-dumpable. It
reaps orphans. After each run the reset puts the sandbox back as it was when the agent started
and checks it (agent_fresh.py); a sandbox that fails the check answers ``reset`` not ok. The
runner talks to it over the container's attach stream: JSON lines on the agent's stdin
(commands) and stdout (events). The host never touches the container's file system: the agent
writes the program's files itself, spawns the compile and run steps, streams their output in
coalesced chunks, forwards stdin, enforces the wall-clock and output limits by killing the
process group, and reports exit code, signal, wall time, CPU time and peak memory.

Commands:  {"op":"run", "files":[...], "steps":[{"phase","argv","zygote"?}], "env":{}, "stdin":"",
            "closeStdin":bool, "limits":{"wallMs","cpuMs","outputBytes"}}
           {"op":"prepare","zygote":{"argv","env"}?,"compileServer":{"argv","env"}?}
             (a warm interpreter for run steps, a warm compiler for compile steps)
           (each step: {"phase":"compile|run","argv":[...],"server"?,"zygote"?,"tables"?,
             "wallMs"?,"cpuMs"? (the step's own, else the run's), "stackBytes"?,
             "fileSizeBytes"?,"addressSpaceBytes"? (setrlimit in the step's process))})
           {"op":"stdin","data":"..."}  {"op":"eof"}  {"op":"stop"}  {"op":"reset"}  {"op":"ping"}
           {"op":"kernel","argv":[...],"env":{},"files"?:[...]}  (a notebook: write the files
             as a run does, then start kernel_bridge.py; again at each restart)
           {"op":"restart_kernel","id":"<running execution>"|null}  (reset the sandbox, start
             the bridge again; the running cell, if any, ends "restarted")
           {"op":"to_kernel","data":{...}}        (a line for the bridge)
           {"op":"put_layer","key":"<hex>","data":"<base64>","last":bool}  (a package layer's
             tar for the kernel, in pieces: unpacked root-owned in a new /tmp directory)
Events:    {"ev":"ready","pid":n}  {"ev":"prepared","ok":bool}  (ok: the zygote, if asked
             for, answered)
           {"ev":"step","phase":"compile|run"}  (a step of a run of several starts)
           {"ev":"out","stream":"stdout|stderr","data":"..."}
           {"ev":"table","columns":[...],"rows":[[...]]}  (from a step with "tables": true)
           {"ev":"stdin_ack","bytes":n}  (n bytes of "stdin" commands were written to the
             program, or dropped as its stdin is closed: the runner keeps a bounded window)
           {"ev":"done","phase","exitCode","signal","wallMs","cpuMs","memoryKb","timedOut",
            "outputExceeded","stopped","oom","error"}   {"ev":"pong"}
             (phase "setup": the run did not start, and only "error" is set; a step that
             could not be started: "error" and exitCode 127)
           {"ev":"reset","ok":bool,"error"?}  (not ok: the check found it unlike a fresh one)
           {"ev":"kernel","data":{...}}  (a line the kernel bridge printed, never trusted)
           {"ev":"kernel","data":{"msg":"exited"}}  (the bridge ended)
           {"ev":"kernel","data":{"msg":"dropped"}}  (a line of the bridge was too long)
           {"ev":"layer","ok":bool,"path"?,"error"?}  (the answer to put_layer's last piece)

The runner's typed side of this protocol is runners/agent_messages.py; a test decodes what this
agent emits into it (tests/integration/test_agent_protocol.py).
"""

from __future__ import annotations

import collections
import ctypes
import json
import os
import selectors
import signal
import sys
import time

# The agent's modules sit beside it in a root-owned, read-only folder; -I leaves it off sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from agent_budget import OutputBudget
from agent_compile_server import CompileServer
from agent_fresh import FreshState
from agent_housekeeping import (
    kill_until_none,
    kill_user_processes,
    reap,
    wait_for,
    write_files,
)
from agent_kernels import KernelLayers, KernelProcess
from agent_protocol import DRAIN_SECONDS, READ_BYTES, Message, emit, signal_name
from agent_stats import oom_kills
from agent_step import Step, step_wall_and_cpu
from agent_users import as_sandbox_user
from agent_zygote_client import Zygote

LIVE_COMMANDS = ("stdin", "eof", "stop", "ping")
CROWDED_PROCESSES = 32
"""A sandbox in which user code had this many processes alive at once (a fork bomb, say) is
not reused: under gVisor (ptrace) every address space the program made keeps a host process
with a thread per gVisor thread that ran it, pooled for the sandbox's life, so each bomb in the
same sandbox would add host tasks until gVisor's pids backstop ends it (internal_error). Under
runc replacing it costs one fresh container."""


def make_undumpable() -> None:
    """Deny ptrace and /proc/<agent>/fd access, so nothing can forge events (besides the
    agent's uid being one user code does not have)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


CHILDREN_SIGNAL: list[int] = []


def watch_children() -> int:
    """A pipe that becomes readable when a child exits (SIGCHLD through the wakeup fd): works
    where pidfd_open does not (gVisor)."""
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    CHILDREN_SIGNAL.append(read_end)
    return read_end


def drain_children_signal() -> None:
    try:
        while os.read(CHILDREN_SIGNAL[0], 4096):
            pass
    except BlockingIOError:
        pass


class Agent:
    def __init__(self, fresh: FreshState) -> None:
        self.fresh = fresh
        self.kernel_spec: Message | None = None
        self.selector = selectors.DefaultSelector()
        self.control_buffer = b""
        self.commands: collections.deque[Message] = collections.deque()
        self.step: Step | None = None
        self.zygote: Zygote | None = None
        self.compile_server: CompileServer | None = None
        self.stop_requested = False
        self.eof = False
        self.early_stdin = b""  # stdin that arrived before the run step started
        self.early_eof = False
        self.job_stdin_left = 0  # bytes of the run's own stdin not yet written
        self.kernel: KernelProcess | None = None
        self.layers = KernelLayers()
        self.most_user_processes = 0  # alive at once at a kill since the last reset

    # --- control channel ---------------------------------------------------------------------

    def serve(self) -> None:
        os.set_blocking(0, False)
        self.selector.register(0, selectors.EVENT_READ, "control")
        self.selector.register(watch_children(), selectors.EVENT_READ, "children")
        emit({"ev": "ready", "pid": os.getpid()})
        while not self.eof:
            for key, _ in self.selector.select(1.0):
                if key.data == "kernel":
                    self.read_kernel()
                elif key.data == "kernel_in":
                    self.write_kernel()
                elif key.data == "children":
                    drain_children_signal()
                else:
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

    def handle(self, command: Message) -> None:
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
        elif op in ("kernel", "to_kernel", "restart_kernel", "put_layer"):
            self.kernel_command(op, command)

    # --- a notebook's kernel -------------------------------------------------------------------

    def kernel_command(self, op: str, command: Message) -> None:
        if op == "kernel":
            self.start_kernel(command)
        elif op == "restart_kernel":
            self.restart_kernel(command.get("id"))
        elif op == "put_layer":
            self.layers.put(command)
        else:
            self.to_kernel(command.get("data", {}))

    def restart_kernel(self, running: str | None) -> None:
        """A restart leaves nothing of the old kernel behind: the sandbox is reset and checked
        like a reused one, then the bridge starts again. A sandbox that fails the check ends
        the agent (the runner then replaces the container)."""
        self.stop_kernel()
        if running:
            emit({"ev": "kernel", "data": {"msg": "done", "id": running, "status": "restarted"}})
        self.layers.remove_all()
        problems = self.clean()
        if problems or self.kernel_spec is None:
            emit({"ev": "reset", "ok": False, "error": "; ".join(problems) or "no kernel"})
            self.eof = True
            return
        self.start_kernel(self.kernel_spec)

    def start_kernel(self, command: Message) -> None:
        self.stop_kernel()
        self.kernel_spec = command
        if self.zygote is not None:
            self.zygote.stop()  # a notebook container runs no programs
            self.zygote = None
        try:
            if command.get("files"):
                with as_sandbox_user():  # as a run's: no user process is alive yet
                    write_files(command["files"])
            self.kernel = KernelProcess(command["argv"], command.get("env", {}))
        except (OSError, KeyError, ValueError) as exc:
            emit({"ev": "kernel", "data": {"msg": "failed", "error": str(exc)}})
            return
        self.selector.register(self.kernel.out_fd, selectors.EVENT_READ, "kernel")

    def to_kernel(self, data: Message) -> None:
        if self.kernel is None:
            emit({"ev": "kernel", "data": {"msg": "exited"}})
            return
        self.kernel.queue(data)
        self.write_kernel()

    def write_kernel(self) -> None:
        kernel = self.kernel
        if kernel is None:
            return
        more = kernel.write()
        registered = kernel.in_fd in self.selector.get_map()
        if more and not registered:
            self.selector.register(kernel.in_fd, selectors.EVENT_WRITE, "kernel_in")
        elif not more and registered:
            self.selector.unregister(kernel.in_fd)

    def read_kernel(self) -> None:
        if self.kernel is not None and not self.kernel.read():
            self.stop_kernel()
            emit({"ev": "kernel", "data": {"msg": "exited"}})

    def stop_kernel(self) -> None:
        kernel, self.kernel = self.kernel, None
        if kernel is None:
            return
        for fd in (kernel.out_fd, kernel.in_fd):
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        kernel.stop()

    def prepare(self, command: Message) -> None:
        """Start the runtime's helpers: a Python zygote, a warm compile server."""
        ok = True
        if command.get("zygote"):
            spec = command["zygote"]
            self.zygote = Zygote(spec["argv"], spec["env"])
            self.zygote.start()
            ok = self.zygote.usable(spec["env"])
            if self.zygote.pid is not None:
                self.fresh.add_platform_process(self.zygote.pid)
        if command.get("compileServer"):
            spec = command["compileServer"]
            self.compile_server = CompileServer(spec["argv"], spec["env"])
            self.compile_server.start()
        emit({"ev": "prepared", "ok": ok})

    def add_stdin(self, data: bytes, eof: bool) -> None:
        step = self.step
        if step is not None and step.is_run and not step.stdin_open:
            self.ack_stdin(len(data))  # the program closed its stdin: nothing will read it
        elif step is not None and step.is_run:
            step.stdin_buffer += data
            step.close_stdin = step.close_stdin or eof
            self.want_stdin_write()
        else:
            self.early_stdin += data
            self.early_eof = self.early_eof or eof

    def platform_pids(self) -> set[int]:
        """The processes a kill of user processes spares: the agent, the zygote, and a sealed
        compile server (agent_compile_server.py)."""
        zygote = self.zygote
        server = self.compile_server.spared() if self.compile_server else set()
        return {os.getpid()} | server | (
            {zygote.pid} if zygote and zygote.pid and zygote.alive() else set())

    def kill_all(self) -> None:
        found = len(kill_user_processes(self.platform_pids()))
        self.most_user_processes = max(self.most_user_processes, found)

    def clean(self) -> list[str]:
        """Kill every user process, put the sandbox back as it was when the agent started;
        what is still not as it was, as problems."""
        server = self.compile_server
        if server is not None and not server.spared():
            server.forget()  # gone, or not to be kept: killed below with the user's processes
        found = kill_until_none(self.platform_pids())
        if server is not None and server.proc is not None and not server.spared():
            server.stop()  # changed by the user's processes before they were killed
        crowded = max(self.most_user_processes, found)
        self.most_user_processes = 0
        zygote = self.zygote
        if zygote is not None and not zygote.alive():  # the OOM killer's choice, say
            if zygote.pid is not None:
                self.fresh.drop_platform_process(zygote.pid)
            zygote.stop()
            zygote.start()
            if zygote.pid is not None:
                self.fresh.add_platform_process(zygote.pid)
        self.fresh.clean()
        problems = self.fresh.problems(server.spared() if server else set())
        if crowded >= CROWDED_PROCESSES:
            problems.append(f"{crowded} user processes were alive at once: not reused")
        return problems

    def reset(self) -> None:
        """Return the sandbox to the state of a fresh one and check it (agent_fresh.py)."""
        try:
            self.stop_kernel()
            self.layers.remove_all()
            problems = self.clean()
        except OSError as exc:
            problems = [f"the reset failed: {exc}"]
        if problems:
            emit({"ev": "reset", "ok": False, "error": "; ".join(problems)})
            return
        if self.compile_server is not None and self.compile_server.proc is None:
            self.compile_server.start()  # warms up while nobody waits for it
        emit({"ev": "reset", "ok": True})

    # --- running a program -------------------------------------------------------------------

    def run(self, command: Message) -> None:
        if self.kernel is not None:
            emit({"ev": "done", "phase": "setup", "error": "this sandbox holds a kernel"})
            return
        self.stop_requested = False
        self.early_stdin, self.early_eof = b"", False
        try:
            with as_sandbox_user():  # no user process is alive: the last reset killed them
                write_files(command.get("files", []))
        except (OSError, ValueError) as exc:
            emit({"ev": "done", "phase": "setup", "error": str(exc)})
            return
        env = command.get("env", {})
        limits = command.get("limits", {})
        budget = OutputBudget(int(limits.get("outputBytes", 1 << 20)))
        steps = command.get("steps", [])
        for index, spec in enumerate(steps):
            last = index == len(steps) - 1
            result = None
            if len(steps) > 1:
                emit({"ev": "step", "phase": spec["phase"]})
            if spec.get("server") and self.compile_server is not None:
                wall_ms, _ = step_wall_and_cpu(spec, limits)
                result = self.compile_server.compile(spec["argv"], wall_ms, budget)
            if result is None:
                result = self.run_step(spec, env, limits, budget, command if last else None)
            result["phase"] = spec["phase"]
            if last or result.get("exitCode") != 0 or self.stop_requested or self.eof:
                emit(result)
                return

    def run_step(self, spec: Message, env: dict[str, str], limits: Message,
                 budget: OutputBudget, run: Message | None) -> Message:
        server = self.compile_server
        if server is not None:
            server.hold()  # never beside the step unless sealed; paused while warming up
        kept = server.spared() if server else set()
        ooms_before = oom_kills()
        try:
            step = Step.spawn(spec, env, limits, budget, self.zygote, self.kill_all)
        except OSError as exc:
            if server is not None:
                server.release()
            return {"ev": "done", "error": f"cannot start {spec['argv'][0]}: {exc.strerror}",
                    "exitCode": 127}
        self.step = step
        if run is not None:
            step.is_run = True
            step.stdin_buffer = run.get("stdin", "").encode() + self.early_stdin
            self.job_stdin_left = len(step.stdin_buffer) - len(self.early_stdin)
            step.close_stdin = bool(run.get("closeStdin", True)) or self.early_eof
        else:
            step.close_stdin = True
        if self.stop_requested:
            step.stopped = True
            step.kill()
        self.selector.register(step.stdout_fd, selectors.EVENT_READ, "stdout")
        self.selector.register(step.stderr_fd, selectors.EVENT_READ, "stderr")
        if step.tables_fd is not None:
            self.selector.register(step.tables_fd, selectors.EVENT_READ, "tables")
        self.want_stdin_write()
        self.pump(step)
        self.step = None
        if kept and server is not None and not server.spared():
            ooms_before += 1  # the OOM killer's first choice (the server) went, not the program
        if server is not None:
            server.release()
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
            if step.exited is None:
                self.check_exit(step)
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

    def check_exit(self, step: Step) -> None:
        """Collect the step's exit status and rusage once it has exited (SIGCHLD wakes us)."""
        try:
            found = os.waitid(os.P_PID, step.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # a zygote's program not yet handed to us
            return
        if found is None:
            return
        _, status, usage = wait_for(step.pid)
        if step.proc is not None:
            step.proc.returncode = os.waitstatus_to_exitcode(status)
        step.exited = (status, usage)
        step.ended = time.monotonic()

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
        elif kind == "children":
            drain_children_signal()
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
                self.ack_stdin(written)
        except BlockingIOError:
            return
        except OSError:  # the program closed its stdin
            self.ack_stdin(len(step.stdin_buffer))
            step.stdin_buffer = b""
            step.close_stdin = True
        if not step.stdin_buffer:
            self.selector.unregister(step.stdin_fd)
            if step.close_stdin:
                step.close_stdin_pipe()

    def ack_stdin(self, size: int) -> None:
        """Tell the runner how many bytes of its stdin commands left the agent (written to
        the program, or dropped): it keeps at most a window of them unacknowledged. The job's
        own stdin, at the front of the buffer, is not counted."""
        own = min(size, self.job_stdin_left)
        self.job_stdin_left -= own
        if size > own:
            emit({"ev": "stdin_ack", "bytes": size - own})

    def unregister_step(self, step: Step) -> None:
        for fd in step.parent_fds():
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass
        for fd in step.parent_fds()[1:]:
            os.close(fd)
        step.close_stdin_pipe()

    def result(self, step: Step, ooms_before: int) -> Message:
        assert step.exited is not None
        status, usage = step.exited
        ended = step.ended
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        return {
            "ev": "done",
            "exitCode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": signal_name(sig) if sig else None,
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
    if os.getpid() != 1 or os.getuid() != 0:
        # kill(-1) outside a container's own PID namespace would take the machine with it.
        sys.exit("the agent runs only as PID 1 and container root of a sandbox")
    os.setgroups([])
    make_undumpable()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    Agent(FreshState.record()).serve()


if __name__ == "__main__":
    main()

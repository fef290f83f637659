"""Warm helpers the agent keeps in a sandbox: a Python zygote for run steps and a compile
server (JavacServer) for compile steps."""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import subprocess
import time

from agent_protocol import WORKSPACE, ZYGOTE_WAIT_S, emit
from agent_users import SANDBOX_GID, SANDBOX_UID, user_process


class Zygote:
    """A warm interpreter (runners/agent/zygote.py) that forks programs on request.

    It is a platform process (container root, like the agent): each program it forks drops to
    the sandbox user before it runs, so no program can change the zygote's limits or
    scheduling, which every later program would inherit."""

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

    def spawn(self, argv: list[str], env: dict, fds: list[int], cpu_seconds: int) -> int:
        assert self.sock is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": WORKSPACE, "cpuSeconds": cpu_seconds,
                              "uid": SANDBOX_UID, "gid": SANDBOX_GID}).encode()
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
        if self.sock is None or self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True


class CompileServer:
    """A warm compiler (e.g. JavacServer) that compiles on request over its stdin and stdout.

    It runs only between runs: started when the container is prepared and after each reset,
    stopped before a program runs, so no program ever shares the container with it. It reads
    the user's sources, so it runs as the sandbox user, not as a platform process.
    """

    def __init__(self, argv: list[str], env: dict) -> None:
        self.argv, self.env = argv, env
        self.proc: subprocess.Popen | None = None
        self.ready = False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
            **user_process(),
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
        if header is None or not header.startswith(b"EXIT "):
            return self.failed(wall_ms, cpu_ms, timed_out=header is None)
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

    def failed(self, wall_ms: int, cpu_ms: int, timed_out: bool) -> dict:
        """The server gave no answer: still working at the wall limit (a timeout), or it died
        (crashed, killed by the OOM killer): then its own exit code or signal is reported."""
        assert self.proc is not None
        peak_kb = process_peak_kb(self.proc.pid)
        if timed_out:
            self.stop()
            code, sig = None, "SIGKILL"
        else:
            try:
                status = self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:  # it said something else than a result
                self.stop()
                status = -signal.SIGKILL
            code, sig = (status, None) if status >= 0 else (None, signal.Signals(-status).name)
            self.forget()
            emit({"ev": "out", "stream": "stderr",
                  "data": f"the compile server ended unexpectedly ({sig or f'exit {code}'})\n"})
        return {"ev": "done", "exitCode": code, "signal": sig, "wallMs": wall_ms,
                "cpuMs": cpu_ms, "memoryKb": peak_kb, "timedOut": timed_out,
                "outputExceeded": False, "stopped": False, "oom": False, "error": None}


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


class KernelProcess:
    """A notebook kernel's bridge (kernel_bridge.py): JSON lines in and out, relayed as they
    come. It runs as the sandbox user like the code it runs, so the agent trusts none of it:
    each line it prints is wrapped (``{"ev":"kernel","data":…}``) and can never pass for one
    of the agent's own events; a line longer than ``MAX_LINE`` is dropped."""

    MAX_LINE = 6 * 1024 * 1024

    def __init__(self, argv: list[str], env: dict) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, **user_process(),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.in_fd, False)
        self.pending = b""
        self.buffer = b""
        self.skipping = False

    def queue(self, data: dict) -> None:
        self.pending += (json.dumps(data, separators=(",", ":")) + "\n").encode()

    def write(self) -> bool:
        """Write what is pending; True while some is left."""
        try:
            written = os.write(self.in_fd, self.pending[:65536])
            self.pending = self.pending[written:]
        except BlockingIOError:
            pass
        except OSError:  # the bridge is gone: its end of the pipe closed
            self.pending = b""
        return bool(self.pending)

    def read(self) -> bool:
        """Relay what the bridge printed; False once it has exited."""
        try:
            chunk = os.read(self.out_fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if self.skipping:
                self.skipping = False
            elif line.strip():
                self.relay(line)
        if len(self.buffer) > self.MAX_LINE:
            self.buffer, self.skipping = b"", True
            emit({"ev": "kernel", "data": {"msg": "dropped"}})
        return True

    @staticmethod
    def relay(line: bytes) -> None:
        try:
            data = json.loads(line)
        except ValueError:
            return
        if isinstance(data, dict):
            emit({"ev": "kernel", "data": data})

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

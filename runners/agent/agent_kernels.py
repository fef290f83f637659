"""A notebook's kernel bridge (kernel_bridge.py) as the agent runs it: lines relayed both ways."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from agent_protocol import Message, emit
from agent_users import as_user


class KernelProcess:
    """A notebook kernel's bridge (kernel_bridge.py): JSON lines in and out, relayed as they
    come. It runs as the sandbox user like the code it runs, so the agent trusts none of it:
    each line it prints is wrapped (``{"ev":"kernel","data":…}``) and can never pass for one
    of the agent's own events; a line longer than ``MAX_LINE`` is dropped."""

    MAX_LINE = 6 * 1024 * 1024

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=as_user(),
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out_fd = self.proc.stdout.fileno()
        self.in_fd = self.proc.stdin.fileno()
        os.set_blocking(self.out_fd, False)
        os.set_blocking(self.in_fd, False)
        self.pending = b""
        self.buffer = b""
        self.skipping = False

    def queue(self, data: Message) -> None:
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
        except (ValueError, RecursionError):  # nested too deep: the bridge is the user's
            return
        if isinstance(data, dict):
            try:
                emit({"ev": "kernel", "data": data})
            except ValueError:  # NaN or a lone surrogate: no JSON the runner takes
                emit({"ev": "kernel", "data": {"msg": "dropped"}})

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

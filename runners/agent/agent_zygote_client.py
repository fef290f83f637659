"""The agent's end of the Python zygote (zygote.py): a warm interpreter that forks run steps."""

from __future__ import annotations

import array
import json
import os
import signal
import socket

from agent_protocol import WORKSPACE, ZYGOTE_WAIT_S
from agent_users import SANDBOX_GID, SANDBOX_UID, Rlimit


class Zygote:
    """A warm interpreter (runners/agent/zygote.py) that forks programs on request.

    It is a platform process (container root, like the agent): each program it forks drops to
    the sandbox user before it runs, so no program can change the zygote's limits or
    scheduling, which every later program would inherit."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
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

    def usable(self, env: dict[str, str]) -> bool:
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

    def spawn(self, argv: list[str], env: dict[str, str], fds: list[int],
              rlimits: list[Rlimit]) -> int:
        assert self.sock is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": WORKSPACE, "rlimits": rlimits,
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

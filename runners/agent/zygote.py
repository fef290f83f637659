"""A Python fork server inside the sandbox (stdlib only): ``python3 main.py`` without paying
for interpreter start-up on every run.

The agent starts it with the runtime's environment, as a platform process (container root with
the agent's few capabilities: user code cannot change its limits or scheduling, which every
program would inherit), holding one end of a socketpair on fd 3. For each request (JSON, with
the program's stdin/stdout/stderr pipe ends passed as SCM_RIGHTS) it forks the program as a
child of the agent (clone with CLONE_PARENT; where that is missing or ignored, as under gVisor,
by forking twice), so that the agent waits for it, measures it and kills its process group
like any other step. The program runs
from a fresh ``__main__`` module, with ``sys.argv``, ``sys.path[0]``, the working directory and
the environment of a real ``python3 main.py``, and exits through the normal interpreter
shutdown (atexit handlers, flushing, exit code). Before any of the program's code runs, the
child sets its limits (CPU; the run's stack, file size, address space) and niceness and
drops every id to the sandbox user (so it holds no capability), as the agent does for the
programs it starts itself (agent_users.py).
"""

from __future__ import annotations

import array
import ctypes
import json
import os
import resource
import socket
import sys
import traceback
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

WalkStack = Callable[[FrameType | None], Iterator[tuple[FrameType, int]]]

CONTROL_FD = 3
MAX_FDS = 3
LIBC = ctypes.CDLL(None, use_errno=True)
PRCTL = LIBC.prctl  # looked up once, before any fork
CLONE_PARENT = 0x00008000
SIGCHLD = 17
CLONE_SYSCALL = {"x86_64": 56, "aarch64": 220}
USER_NICE = 10  # as agent_protocol.USER_NICE


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancillary, _flags, _addr = sock.recvmsg(1 << 20, socket.CMSG_LEN(MAX_FDS * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        os._exit(0)  # the agent closed its end
    return json.loads(data), list(fds)


def set_dumpable(value: int) -> None:
    PRCTL(4, value, 0, 0, 0)  # PR_SET_DUMPABLE


def serve() -> tuple[dict[str, Any], list[int]]:
    """Answer requests until one forks into the program; returns that request in the program.

    The zygote is non-dumpable, so a program cannot ptrace it or read its memory to spy on
    later runs; each program is made dumpable again, as a freshly started one would be.
    """
    set_dumpable(0)
    sibling = clone_parent_works()
    sock = socket.socket(fileno=CONTROL_FD)
    sock.sendall(b"R")
    while True:
        request, fds = receive(sock)
        program = fork_as_sibling() if sibling else -1
        if program == 0:
            sock.close()
            return request, fds
        if program < 0:  # no clone(CLONE_PARENT) here: fork twice and let the middle go
            middle = os.fork()
            if middle == 0:
                program = os.fork()
                if program == 0:
                    sock.close()
                    wait_for_reparenting(os.getppid())
                    return request, fds
                sock.sendall(f"{program}\n".encode())
                os._exit(0)
            os.waitpid(middle, 0)
        else:
            sock.sendall(f"{program}\n".encode())
        for fd in fds:
            os.close(fd)


def fork_as_sibling() -> int:
    """fork(), except that the child's parent is the agent (clone with CLONE_PARENT), so that
    the agent waits for it and measures it directly. Python's own before/after-fork hooks run
    exactly as in os.fork. Returns -1 where the raw clone is not available."""
    number = CLONE_SYSCALL.get(os.uname().machine)
    if number is None:
        return -1
    api = ctypes.pythonapi
    api.PyOS_BeforeFork()
    pid = LIBC.syscall(number, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        api.PyOS_AfterFork_Child()
    else:
        api.PyOS_AfterFork_Parent()
    return int(pid)


def clone_parent_works() -> bool:
    """Whether a clone with CLONE_PARENT really makes the agent the child's parent. gVisor
    accepts the flag and ignores it: the child stays ours, the agent could never wait for it
    and a run would never end. Probed once with a child that exits at once."""
    probe = fork_as_sibling()
    if probe == 0:
        os._exit(0)
    if probe < 0:
        return False
    try:
        os.waitpid(probe, 0)
    except ChildProcessError:
        return True  # the agent's child: the agent reaps it
    return False


def wait_for_reparenting(middle: int) -> None:
    """Start only once the middle process is gone, so that the agent can wait for us."""
    import time

    while os.getppid() == middle and middle != 1:
        time.sleep(0.0001)


def become_program(request: dict[str, Any], fds: list[int]) -> None:
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, 4096)
    become_user(request)
    set_dumpable(1)  # after the id change, which makes a process non-dumpable
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"][1:]
    path = os.path.abspath(argv[0])
    sys.argv = argv
    sys.path[0] = os.path.dirname(path)
    run_main(path)


def become_user(request: dict[str, Any]) -> None:
    """The program's own limits (``rlimits``: [which, soft, hard], as agent_users.set_rlimits:
    never above the sandbox's hard limit) and niceness, then every id to the sandbox user's."""
    for which, soft, hard in request["rlimits"]:
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        resource.setrlimit(which, (soft, hard))
    os.setpriority(os.PRIO_PROCESS, 0, USER_NICE)
    os.setgroups([])
    os.setresgid(request["gid"], request["gid"], request["gid"])
    os.setresuid(request["uid"], request["uid"], request["uid"])


def run_main(path: str) -> None:
    import builtins
    import importlib.machinery
    import types

    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__dict__["__builtins__"] = builtins
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    sys.modules["__main__"] = module
    traceback.walk_stack = user_frames_only(traceback.walk_stack)  # type: ignore[assignment]
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec"), module.__dict__)
        code = 0
    except SystemExit as exc:
        code = exit_code(exc)
    except BaseException as exc:  # print as the interpreter would, without our own frames
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        # The default hook prints the exception's own traceback, not the one it is given.
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        code = 1
    shut_down(module, code)


def user_frames_only(walk_stack: WalkStack) -> WalkStack:
    """``traceback.walk_stack`` stopping below the program's first frame, so that a stack
    the program prints (``traceback.print_stack``, logging's ``stack_info``) shows what
    ``python3 main.py`` would: no frame of this file."""

    def frames_until_ours(frames: Iterator[tuple[FrameType, int]]
                          ) -> Iterator[tuple[FrameType, int]]:
        for frame, line in frames:
            if frame.f_code.co_filename == __file__:
                return
            yield frame, line

    def walk(f: FrameType | None) -> Iterator[tuple[FrameType, int]]:
        return frames_until_ours(walk_stack(sys._getframe(1) if f is None else f))

    return walk


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def shut_down(module: object, code: int) -> None:
    """What interpreter shutdown does that a program can observe, then a fast exit.

    Non-daemon threads are joined, atexit handlers run, the main module's globals are dropped
    (so unclosed files are flushed and closed) and the standard streams flushed. The full
    finalization of the interpreter (about 7 ms here) changes nothing a program can see.
    """
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    try:
        vars(module).clear()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            code = code or 120  # as CPython does when flushing stdout fails at exit
    os._exit(code)


if __name__ == "__main__":
    become_program(*serve())

"""System V IPC objects (shared memory, message queues, semaphore sets) in the sandbox's IPC
namespace: found, removed and counted by the reset. POSIX message queues live in /dev/mqueue,
a writable mount the reset wipes like the others.

The objects are found in /proc/sysvipc where the kernel has it (runc), else by index with the
``*_STAT_ANY``/``*_STAT`` commands ipcs(1) uses (gVisor has no /proc/sysvipc); the count comes
from ``*_INFO`` either way, so an object the listing missed still fails the check.

gVisor differs: its ``*_INFO`` gives 0 as the highest index while ids start at 1, it refuses
``SHM_STAT_ANY``, and its ``SHM_INFO`` ``used_ids`` is the last id it gave out, not a count (it
stays after the object is removed). There every id up to the highest ``*_INFO`` reports is also
probed with ``IPC_STAT`` (``EACCES`` is an object too), and shared memory is counted by that.
"""

from __future__ import annotations

import ctypes
import errno
import os

LIBC = ctypes.CDLL(None, use_errno=True)
IPC_RMID = 0
IPC_STAT = 2
KINDS = ("shm", "msg", "sem")
INFO = {"shm": 14, "msg": 12, "sem": 19}  # SHM_INFO, MSG_INFO, SEM_INFO
STAT = {"shm": (15, 13), "msg": (13, 11), "sem": (20, 18)}  # *_STAT_ANY, *_STAT
IN_USE_OFFSET = {"shm": 0, "msg": 0, "sem": 28}
"""Where *_INFO puts the number of objects in use: shm_info.used_ids, msginfo.msgpool,
seminfo.semusz."""


def _ctl(kind: str, ident: int, command: int, buffer: ctypes.Array[ctypes.c_char] | None) -> int:
    if kind == "shm":
        return int(LIBC.shmctl(ident, command, buffer))
    if kind == "msg":
        return int(LIBC.msgctl(ident, command, buffer))
    return int(LIBC.semctl(ident, 0, command, buffer))


def _info(kind: str) -> tuple[int, int]:
    """(highest index in use, objects in use)."""
    buffer = ctypes.create_string_buffer(512)
    highest = _ctl(kind, 0, INFO[kind], buffer)
    offset = IN_USE_OFFSET[kind]
    return highest, int.from_bytes(buffer.raw[offset : offset + 4], "little")


def listed() -> bool:
    return os.path.isdir("/proc/sysvipc")


def exists(kind: str, ident: int) -> bool:
    buffer = ctypes.create_string_buffer(512)
    return _ctl(kind, ident, IPC_STAT, buffer) >= 0 or ctypes.get_errno() == errno.EACCES


def object_ids(kind: str) -> list[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as f:
            return [int(line.split()[1]) for line in list(f)[1:] if line.strip()]
    except FileNotFoundError:
        pass
    highest, in_use = _info(kind)
    buffer = ctypes.create_string_buffer(512)
    found = set()
    for index in range(highest + 1):
        for command in STAT[kind]:
            ident = _ctl(kind, index, command, buffer)
            if ident >= 0:
                found.add(ident)
                break
    found |= {ident for ident in range(max(highest, in_use) + 1) if exists(kind, ident)}
    return sorted(ident for ident in found if exists(kind, ident))


def remove_all() -> None:
    """IPC_RMID every object; the caller acts as the objects' owner (the sandbox user)."""
    for kind in KINDS:
        for ident in object_ids(kind):
            _ctl(kind, ident, IPC_RMID, None)


def leftovers() -> list[str]:
    """What is still there, as problems for the reset's check."""
    problems = []
    for kind in KINDS:
        ids = object_ids(kind)
        counted = _info(kind)[1] if listed() or kind != "shm" else 0  # gVisor: a last id
        in_use = max(len(ids), counted)
        if in_use:
            problems.append(f"{in_use} System V {kind} object(s) left")
    return problems

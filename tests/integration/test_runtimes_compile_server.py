"""Java's warm javac server stays up across the runs of a sandbox's owner, beside their
programs, out of their reach (runners/agent/agent_compile_server.py): the real agent in a real
java sandbox, spoken to as the runner does (tests/integration/test_agent_protocol.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.messages import Isolation
from runners import agent_messages as agent
from runners.sandbox import BASE_ENV
from tests.integration.test_agent_protocol import (
    CATALOG,
    PATIENCE_S,
    RawAgent,
    is_done,
    output,
    started,
)

pytestmark = pytest.mark.timeout(180)

HELLO = 'public class Main { public static void main(String[] a) { System.out.println("hi"); } }\n'
PROBE = """
import json, os, resource, signal, sys
def cmdline(pid):
    try:  # a process may end between the listing and the read (one of the last run's)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""
found = [int(p) for p in os.listdir("/proc") if p.isdigit() and b"JavacServer" in cmdline(p)]
tried = {}
for pid in found:
    for what in ("environ", "mem", "fd"):
        try:
            os.listdir(f"/proc/{pid}/fd") if what == "fd" else open(f"/proc/{pid}/{what}", "rb")
            tried[what] = "opened"
        except OSError as exc:
            tried[what] = type(exc).__name__
    if sys.argv[1:] == ["kill"]:
        os.kill(pid, signal.SIGKILL)
    if sys.argv[1:] == ["limit"]:  # prlimit --pid <server> --nofile=3: javac cannot open files
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, hard))
        tried["limited"] = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    if sys.argv[1:] == ["pin"]:  # its threads but the first on one CPU, reniced
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            tids = list(range(pid, pid + 40))
        for tid in tids[1:]:
            try:
                os.sched_setaffinity(tid, {min(os.sched_getaffinity(0))})
                os.setpriority(os.PRIO_PROCESS, tid, 19)
                tried["pinned"] = tried.get("pinned", 0) + 1
            except OSError:
                pass
tried["self seen"] = str(os.getpid()) in os.listdir("/proc")
def state(pid):
    try:  # a server killed above may be reaped by the agent before this reads it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
states = [state(pid) for pid in found]
print(json.dumps({"servers": found, "states": states, "tried": tried}))
"""


HOG_TRIES = 8
"""Runs of the hog until once it outlives the server (each outlives it one time in two here)."""
HOG = """
import os
def cmdline(pid):
    try:  # a process may end between the listing and the read
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""
def servers():
    return [p for p in os.listdir("/proc") if p.isdigit() and b"JavacServer" in cmdline(p)]
def read(*names):
    for name in names:  # cgroup v2, v1
        if os.path.exists(f"/sys/fs/cgroup/{name}"):
            with open(f"/sys/fs/cgroup/{name}") as f:
                return int(f.read())
limit = read("memory.max", "memory/memory.limit_in_bytes")
# A megabyte at a time until the sandbox's memory runs out and the OOM killer takes the server
# (it stops there: one allocation of all that was left and more also outgrew the room the
# server's death made, about 20 MB of its own, and the hog died too, one run in two)
held = []
try:
    while servers() and len(held) < (limit >> 20) + 64:
        held.append(b"x" * (1 << 20))
except MemoryError:  # a page the kernel would not give (not a kill): the program goes on
    held.clear()
print("servers left:", len(servers()))
"""


async def run_probe(java: RawAgent, *probe_args: str) -> tuple[agent.Done, dict[str, Any]]:
    """Compile Main.java (with the server when it is up, as the runner asks), then run the
    probe as the program: the servers it sees and what it could open of them."""
    runtime = CATALOG.get("java")
    assert runtime is not None and runtime.compile is not None
    compile_argv = [a.replace("{sources}", "Main.java") for a in runtime.compile]
    java.run({"Main.java": HELLO, "probe.py": PROBE},
             agent.StepSpec("compile", compile_argv, server=True),
             agent.StepSpec("run", ["python3", "probe.py", *probe_args]))
    events = await java.until(is_done)
    done = events[-1]
    assert isinstance(done, agent.Done) and done.phase == "run", events
    assert done.exit_code == 0, (done, output(events, "stderr"))
    return done, json.loads(output(events))


@contextlib.asynccontextmanager
async def java_sandbox(isolation: Isolation = "runc") -> AsyncIterator[RawAgent]:
    """A real java sandbox whose agent is prepared with the catalog's javac server."""
    runtime = CATALOG.get("java")
    assert runtime is not None and runtime.compile_server is not None
    async with started(runtime, isolation) as java:
        assert isinstance(await java.next(), agent.Ready)
        java.env = {**BASE_ENV, **runtime.env}
        java.send(agent.Prepare(compile_server=agent.Helper(runtime.compile_server, java.env)))
        await java.until(lambda e: isinstance(e, agent.Prepared))
        yield java


async def reset(java: RawAgent) -> None:
    java.send(agent.Reset())
    answer = (await java.until(lambda e: isinstance(e, agent.ResetDone)))[-1]
    assert answer == agent.ResetDone(ok=True)


async def until_the_server_waits_for_requests(java: RawAgent) -> None:
    """Until the javac server has warmed up: one of its threads reads its stdin (seen from the
    host, which may read the container's processes' system calls)."""
    async def waiting() -> bool:
        top = java.api.top(java.container_id, ps_args="-eo pid,args")
        for row in top.get("Processes") or []:
            if "JavacServer" in row[-1]:
                pid = int(row[0])
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/syscall") as f:
                        if f.read().startswith("0 0x0 "):  # read(0, ...)
                            return True
        return False

    async def poll() -> None:
        while not await waiting():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), PATIENCE_S)


async def test_the_javac_server_outlives_runs_and_resets_out_of_the_programs_reach() -> None:
    async with java_sandbox() as java:
        await until_the_server_waits_for_requests(java)

        done, first = await run_probe(java)  # compiled by the warm server, which stays up
        assert (done.exit_code, done.oom) == (0, False)
        assert len(first["servers"]) == 1 and first["states"] == ["S"]
        assert first["tried"] == {"environ": "PermissionError", "mem": "PermissionError",
                                  "fd": "PermissionError", "self seen": True}
        await reset(java)
        done, second = await run_probe(java)
        assert (done.exit_code, second["servers"]) == (0, first["servers"])  # the same one

        # A program that kills it: its own verdict (not the OOM count's), then plain javac
        # while a new server warms up.
        await reset(java)
        done, probe = await run_probe(java, "kill")
        assert probe["servers"] == first["servers"]
        assert (done.exit_code, done.oom) == (0, False)
        await reset(java)
        done, probe = await run_probe(java)
        assert (done.exit_code, done.oom) == (0, False)
        assert len(probe["servers"]) == 1 and probe["servers"] != first["servers"]


@pytest.mark.parametrize("change", ["limit", "pin"])
async def test_a_server_a_program_changed_is_replaced_and_the_next_compile_works(
        change: str) -> None:
    """A program lowers the server's open-files limit (prlimit), or pins and renices its
    threads: the reset replaces it, and the next compile (another end user's, maybe) works and
    is not slowed; before, the server was kept and the next compile failed (too many open
    files) or ran on one CPU at the lowest priority."""
    async with java_sandbox() as java:
        await until_the_server_waits_for_requests(java)
        done, first = await run_probe(java, change)
        assert done.exit_code == 0
        assert first["tried"].get("limited") == 3 or first["tried"].get("pinned", 0) > 1, first
        await reset(java)
        done, second = await run_probe(java)  # by the new server, or javac while it warms up
        assert done.exit_code == 0
        assert first["servers"][0] not in second["servers"]


async def test_under_gvisor_the_server_is_never_beside_a_program() -> None:
    """No server beside a program under gVisor, whatever the program does to it: runsc refuses
    to exec javac-server (execute-only), so no server starts there and javac compiles; were it
    to start, the agent's seal check would decide whether it may stay beside programs."""
    async with java_sandbox("gvisor") as java:
        for _ in range(3):
            done, probe = await run_probe(java, "limit")
            assert (done.exit_code, probe["servers"], probe["tried"]) == (
                0, [], {"self seen": True})
            await reset(java)
            await asyncio.sleep(3)  # the server started again warms up meanwhile


async def test_a_program_short_of_memory_takes_the_servers_and_is_not_judged_out_of_it() -> None:
    """The server shares the sandbox's memory; the OOM killer takes it first (oom_score_adj
    1000), and that kill is not the program's: a program that then fits ends ``ok``, not
    ``memory_limit``. The kernel does not always free the server's memory before the program's
    next page (about one run in two here: both are killed, the program's ``memory_limit`` is
    then its own, docs/runtimes.md), so the hog runs until once it outlives the server, each
    time after the server went first."""
    async with java_sandbox() as java:
        limit = 256 << 20
        java.api.update_container(java.container_id, mem_limit=limit, memswap_limit=limit)
        outlived = False
        for _ in range(HOG_TRIES):
            await until_the_server_waits_for_requests(java)
            java.run({"hog.py": HOG}, agent.StepSpec("run", ["python3", "hog.py"]))
            events = await java.until(is_done)
            done = events[-1]
            assert isinstance(done, agent.Done)
            assert not [p for p in java.api.top(java.container_id)["Processes"] or []
                        if "JavacServer" in p[-1]]  # the server went first, every time
            if done.exit_code == 0:
                assert (done.oom, output(events)) == (False, "servers left: 0\n")
                outlived = True
                break
            assert (done.signal, done.oom) == ("SIGKILL", True)  # killed after it, by the kernel
            await reset(java)  # the server starts again
        assert outlived
        await reset(java)  # the server, gone, starts again
        done, probe = await run_probe(java)
        assert (done.exit_code, len(probe["servers"])) == (0, 1)

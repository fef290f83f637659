"""The execution engine through the public socket, on real Docker: verdicts, limits, live stdin,
stop, reuse within a session and isolation between sessions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from textwrap import dedent

import docker
import pytest

from tests.conftest import Running
from tests.integration.wsclient import Client, Result, stored_completion


@pytest.fixture
async def client(platform: Running) -> AsyncIterator[Client]:
    c = await Client.connect(platform.ws_url)
    yield c
    await c.close()


async def run(client: Client, program: str, **extra: object) -> Result:
    return await client.run({"main.py": program}, **extra)


async def test_wall_limit_kills_a_sleeping_program(client: Client) -> None:
    result = await run(client, "import time\nprint('start', flush=True)\ntime.sleep(60)\n",
                       limits={"wallMs": 1000})
    assert result.verdict == "time_limit"
    assert result.stdout == "start\n"
    assert 900 <= result.completion["wallMs"] < 5000


async def test_cpu_limit_ends_a_spinning_program(client: Client) -> None:
    # a wall limit far past the CPU one: on a loaded machine the program gets a small share
    # of a core, and only the CPU limit may end it
    result = await run(client, "while True:\n    pass\n", limits={"cpuMs": 1000, "wallMs": 60_000})
    assert result.verdict == "time_limit"
    # the CPU limit ended it (RLIMIT_CPU's SIGXCPU), not the wall limit, and not at once: the
    # reported CPU time is the kernel's rusage, which read 875-898 ms now and then on a loaded
    # machine for the 1 s limit
    assert (result.completion["signal"], result.completion["cpuMs"] >= 800) == ("SIGXCPU", True)


async def test_memory_bomb_gets_memory_limit(client: Client) -> None:
    program = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 * 1024 * 1024))\n"
    result = await run(client, program, limits={"memoryMb": 64})
    assert result.verdict == "memory_limit"
    assert result.completion["signal"] == "SIGKILL"


async def test_infinite_output_is_cut_at_the_cap(client: Client) -> None:
    result = await run(client, "while True:\n    print('x' * 1000)\n", limits={"outputKb": 64})
    assert result.verdict == "output_limit"
    assert result.completion["truncated"] is True
    assert 60_000 <= len(result.stdout) <= 64 * 1024


async def test_output_without_newlines_is_cut_too(client: Client) -> None:
    program = "import sys\nwhile True:\n    sys.stderr.write('y' * 4096)\n"
    result = await run(client, program, limits={"outputKb": 32})
    assert result.verdict == "output_limit"
    assert len(result.stderr) <= 32 * 1024


async def test_a_fatal_signal_is_a_runtime_error_naming_it(client: Client) -> None:
    result = await run(client, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    assert result.verdict == "runtime_error"
    assert result.completion["signal"] == "SIGSEGV"
    assert "exitCode" not in result.completion


async def test_stdin_drives_a_program_line_by_line(client: Client) -> None:
    program = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\n"
    queued = await client.submit({"main.py": program})
    execution_id = queued["executionId"]
    seen: list[str] = []
    for word in ("alpha", "beta"):
        await client.send({"type": "stdin", "executionId": execution_id, "data": word + "\n"})
        while True:
            event = await client.receive()
            if event["type"] == "output":
                seen.append(event["data"])
                break
    await client.send({"type": "stdin", "executionId": execution_id, "eof": True})
    result = await client.collect(execution_id)
    assert seen == ["ALPHA\n", "BETA\n"]
    assert result.verdict == "ok"


async def test_stdin_given_with_the_request_is_read_to_its_end(client: Client) -> None:
    program = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"
    result = await run(client, program, stdin="1 2 3\n4\n")
    assert (result.verdict, result.stdout) == ("ok", "10\n")


async def test_stop_cancels_a_running_program(client: Client) -> None:
    queued = await client.submit({"main.py": "import time\nwhile True:\n    time.sleep(1)\n"})
    execution_id = queued["executionId"]
    while (await client.receive()).get("status") != "running":
        pass
    await client.send({"type": "stop", "executionId": execution_id})
    result = await client.collect(execution_id)
    assert result.verdict == "cancelled"
    assert result.completion["wallMs"] < 5000


async def test_stdin_for_someone_elses_execution_is_refused(
    client: Client, platform: Running
) -> None:
    queued = await client.submit({"main.py": "import time\ntime.sleep(3)\n"})
    other = await Client.connect(platform.ws_url)
    try:
        await other.send({"type": "stdin", "executionId": queued["executionId"], "data": "x"})
        refusal = await other.receive()
        await other.send({"type": "stop", "executionId": queued["executionId"]})
        refusal_of_stop = await other.receive()
    finally:
        await other.close()
    assert (refusal["type"], refusal["code"]) == ("error", "not_found")
    assert refusal_of_stop["code"] == "not_found"
    result = await client.collect(queued["executionId"])
    assert result.verdict == "ok"


PROBE = """
import os, socket
print(socket.gethostname())
print(sorted(os.listdir('.')))
print(sorted(os.listdir('/tmp')))
print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
"""

LITTER = """
import os, subprocess
open('leftover.txt', 'w').write('x')
open('/tmp/leftover.txt', 'w').write('x')
os.symlink('/etc/shadow', 'planted')
subprocess.Popen(['sleep', '1000'], start_new_session=True)
print('littered')
"""


async def test_a_session_reuses_its_container_wiped_and_with_no_leftover_process(
    client: Client,
) -> None:
    first = await client.run({"main.py": LITTER})
    assert first.verdict == "ok"
    second = await client.run({"main.py": PROBE})
    host, files, scratch, pids = second.stdout.splitlines()
    third = await client.run({"main.py": PROBE})
    assert third.stdout.splitlines()[0] == host, "the same console tab reuses its container"
    assert files == "['main.py']"
    assert scratch == "[]"
    assert len(eval(pids)) == 3, f"the agent, its Python zygote and the probe only: {pids}"


async def test_two_sessions_never_share_a_container(platform: Running) -> None:
    a, b = await Client.connect(platform.ws_url), await Client.connect(platform.ws_url)
    try:
        hosts_a = [(await a.run({"main.py": PROBE})).stdout.split()[0] for _ in range(2)]
        hosts_b = [(await b.run({"main.py": PROBE})).stdout.split()[0] for _ in range(2)]
    finally:
        await a.close()
        await b.close()
    assert hosts_a[0] == hosts_a[1] and hosts_b[0] == hosts_b[1]
    assert set(hosts_a).isdisjoint(hosts_b)
    client = docker.from_env()
    try:
        for host in (hosts_a[0], hosts_b[0]):
            labels = client.containers.get(host).labels
            assert labels["coderunner.runner"] == platform.runner_id
            assert labels["coderunner.managed"] == "1"
    finally:
        client.close()


async def test_user_code_cannot_kill_the_agent(client: Client) -> None:
    """User code runs under a uid of its own: the agent and the zygote are not its to signal."""
    program = dedent("""
        import os, signal
        try:
            os.kill(1, signal.SIGKILL)
        except PermissionError:
            print("refused")
        os.kill(-1, signal.SIGKILL)  # every process this user may signal: none of the platform's
        print("still here")
    """)
    result = await run(client, program)
    assert (result.verdict, result.stdout) == ("ok", "refused\nstill here\n")
    again = await run(client, "print('fine')")
    assert (again.verdict, again.stdout) == ("ok", "fine\n")


async def test_a_sandbox_that_dies_mid_run_is_an_internal_error(client: Client) -> None:
    queued = await client.submit({"main.py": "import socket, time\n"
                                  "print(socket.gethostname(), flush=True)\ntime.sleep(60)\n"})
    while (event := await client.receive())["type"] != "output":
        pass
    docker_client = docker.from_env()
    try:
        docker_client.containers.get(event["data"].strip()).kill()
    finally:
        docker_client.close()
    result = await client.collect(queued["executionId"])
    assert result.verdict == "internal_error"
    again = await run(client, "print('fine')")
    assert (again.verdict, again.stdout) == ("ok", "fine\n")


async def test_programs_of_different_sessions_run_at_the_same_time(platform: Running) -> None:
    """Each program waits for its input once it has started: all four started before any got
    it, so they ran at the same time (however long each session's first container took)."""
    clients = [await Client.connect(platform.ws_url) for _ in range(4)]
    program = "import sys\nprint('started', flush=True)\nprint(sys.stdin.readline().strip())\n"
    try:
        queued = [await c.submit({"main.py": program}, limits={"wallMs": 60_000})
                  for c in clients]
        for client, accepted in zip(clients, queued, strict=True):
            printed = ""  # one print may come as two output events (the agent's 5 ms window)
            while printed != "started\n":
                event = await client.receive()
                assert event.get("type") in ("status", "output"), event
                assert event["executionId"] == accepted["executionId"]
                if event["type"] == "output":
                    printed += event["data"]
                    assert "started\n".startswith(printed), printed
        for client, accepted in zip(clients, queued, strict=True):
            await client.send({"type": "stdin", "executionId": accepted["executionId"],
                               "data": "go\n"})
        results = [await c.collect(q["executionId"]) for c, q in zip(clients, queued, strict=True)]
    finally:
        for c in clients:
            await c.close()
    assert [(r.verdict, r.stdout) for r in results] == [("ok", "go\n")] * 4


async def test_a_requests_process_limit_holds(client: Client) -> None:
    program = dedent("""
        import subprocess
        children = []
        try:
            for _ in range(50):
                children.append(subprocess.Popen(['sleep', '5']))
        except OSError:
            pass
        print(len(children))
    """)
    limited = await run(client, program, limits={"processes": 10})
    assert limited.verdict == "ok"
    assert 1 <= int(limited.stdout) < 10
    again = await run(client, program)  # the same container, back to the language's default
    assert int(again.stdout) == 50


async def test_closing_the_socket_ends_a_program_waiting_for_input(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    queued = await client.submit({"main.py": "print('waiting', flush=True)\ninput()\n"})
    while (await client.receive())["type"] != "output":
        pass
    await client.close()
    stored = await stored_completion(platform.nats_url, queued["executionId"], wait_s=10)
    assert json.loads(stored)["verdict"] == "runtime_error"  # input() raised EOFError


async def test_user_code_runs_below_the_agents_priority(client: Client) -> None:
    """Programs (from the Python zygote, or exec'd like bash), and what they start, run at
    niceness 10, so that a fork bomb cannot starve the agent that must stop it."""
    program = "import os, subprocess\nprint(os.nice(0))\nsubprocess.run(['nice'])\n"
    python = await run(client, program)
    assert (python.verdict, python.stdout) == ("ok", "10\n10\n"), python.stderr
    bash = await client.run({"main.sh": "nice\n"}, language="bash")
    assert (bash.verdict, bash.stdout) == ("ok", "10\n"), bash.stderr

"""A reused sandbox is proven clean (issue #16): what one run plants is gone for the next run of
the same owner, whether the owner is a socket session, the API or a notebook whose kernel was
restarted; and user code cannot change the limits or scheduling of the platform's processes."""

from __future__ import annotations

import json
import uuid
from textwrap import dedent
from typing import Any

import httpx

from tests.conftest import Running
from tests.integration.test_notebooks import Notebook
from tests.integration.wsclient import Client

PLANT = dedent("""
    import ctypes, json, os, resource, signal, subprocess
    planted = []
    for line in open('/proc/self/mountinfo'):
        fields = line.split()
        if 'rw' not in fields[5].split(',') or fields[fields.index('-') + 1] in ('proc', 'sysfs'):
            continue
        try:
            with open(os.path.join(fields[4], 'planted-file'), 'w') as f:
                f.write('left by the last run')
            planted.append(fields[4])
        except OSError:
            pass
    libc = ctypes.CDLL(None)
    ipc = [libc.shmget(0, 4096, 0o1600), libc.msgget(0, 0o1600), libc.semget(0, 1, 0o1600)]
    if os.path.isdir('/dev/mqueue') and libc.mq_open(b'/planted-queue', 0o102, 0o600, None) >= 0:
        planted.append('/dev/mqueue')
    subprocess.Popen(['sleep', '301'], start_new_session=True)
    stopped = subprocess.Popen(['sleep', '302'])
    os.kill(stopped.pid, signal.SIGSTOP)
    changed = []
    def uid(pid):
        return int(open(f'/proc/{pid}/status').read().split('Uid:')[1].split()[0])
    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit() and uid(p) != os.getuid()]:
        for name, change in (
            ('fsize', lambda: resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, 0))),
            ('nofile', lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, 3))),
            ('cpu', lambda: resource.prlimit(pid, resource.RLIMIT_CPU, (1, 1))),
            ('nice', lambda: os.setpriority(os.PRIO_PROCESS, pid, 19)),
            ('idle', lambda: os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))),
        ):
            try:
                change()
                changed.append(f'{pid} {name}')
            except OSError:
                pass
    print(json.dumps({'planted': planted, 'ipc': ipc, 'changed': changed,
                      'sandbox': os.uname().nodename}))
""")
PROBE = dedent("""
    import ctypes, json, os
    me = os.getpid()
    leftovers = []
    for line in open('/proc/self/mountinfo'):
        for root, dirs, files in os.walk(line.split()[4]):
            if root.startswith(('/proc', '/sys')):
                dirs[:] = []
                continue
            leftovers += [os.path.join(root, n) for n in dirs + files if 'planted' in n]
    buffer = ctypes.create_string_buffer(512)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmctl(0, 14, buffer); shm = int.from_bytes(buffer.raw[:4], 'little')
    if not os.path.isdir('/proc/sysvipc'):  # gVisor: used_ids is the last id given out
        shm = sum(1 for i in range(shm + 1)
                  if libc.shmctl(i, 2, buffer) >= 0 or ctypes.get_errno() == 13)
    libc.msgctl(0, 12, buffer); msg = int.from_bytes(buffer.raw[:4], 'little')
    libc.semctl(0, 0, 19, buffer); sem = int.from_bytes(buffer.raw[28:32], 'little')
    platform = {}
    for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != me]:
        try:
            cmdline = open(f'/proc/{pid}/cmdline').read().replace('\\0', ' ').strip()
            nice = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[16])
            limits = f'/proc/{pid}/limits'  # gVisor has none: niceness and policy only
            limits = open(limits).read() if os.path.exists(limits) else None
            platform[cmdline] = [limits, nice,
                                 os.sched_getscheduler(int(pid))]
        except OSError:
            pass
    print(json.dumps({'leftovers': sorted(set(leftovers)), 'ipc': [shm, msg, sem],
                      'processes': platform, 'sandbox': os.uname().nodename}))
""")


def platform_processes(probe: dict[str, Any]) -> dict[str, Any]:
    return {cmd: state for cmd, state in probe["processes"].items()
            if "agent.py" in cmd or "zygote.py" in cmd}


def assert_reused(*runs: dict[str, Any]) -> None:
    """All ran in one sandbox (its host name is the container's): the reset made it clean, not
    a fresh container in place of one that failed the reset's check."""
    assert len({run["sandbox"] for run in runs}) == 1, [run["sandbox"] for run in runs]


def assert_clean(before: dict[str, Any], planted: dict[str, Any], after: dict[str, Any],
                 isolation: str) -> None:
    assert_reused(before, planted, after)
    assert {"/workspace", "/tmp", "/dev/shm"} <= set(planted["planted"]), planted
    if isolation == "runc":
        assert "/dev/mqueue" in planted["planted"], planted
    assert all(ident >= 0 for ident in planted["ipc"]), planted
    assert after["leftovers"] == [], after
    assert after["ipc"] == [0, 0, 0], after
    assert not any("sleep" in cmd for cmd in after["processes"]), after["processes"]
    assert platform_processes(after) == platform_processes(before) != {}
    if isolation == "runc":  # gVisor lets any uid renice another: the reset puts it back
        assert planted["changed"] == [], "user code changed a platform process"


async def test_a_socket_sessions_next_run_sees_nothing_of_the_last(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        runs = []
        for program in (PROBE, PLANT, PROBE):
            result = await client.run({"main.py": program})
            assert result.verdict == "ok", result.events
            runs.append(json.loads(result.stdout))
    finally:
        await client.close()
    assert_clean(*runs, platform.isolation)


async def test_an_api_owners_next_run_sees_nothing_of_the_last(platform: Running) -> None:
    runs = []
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as http:
        for program in (PROBE, PLANT, PROBE):
            body = {"language": "python", "mainFile": "main.py",
                    "files": [{"name": "main.py", "content": program}]}
            response = await http.post("/api/v1/executions?wait=true", json=body)
            done = response.json()
            assert done["verdict"] == "ok", done
            runs.append(json.loads(done["stdout"]))
    assert_clean(*runs, platform.isolation)


async def test_a_restarted_kernel_sees_nothing_of_the_one_before(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        notebook = await Notebook.open(client)
        cells = []
        for code in (PROBE, PLANT, "restart", PROBE):
            if code == "restart":
                assert (await notebook.command("restart"))["state"] == "restarted"
                continue
            cell = await notebook.run(f"exec({code!r})")
            assert cell.verdict == "ok", cell.events
            cells.append(json.loads(cell.text()))
    finally:
        await client.close()
    before, planted, after = cells
    assert_reused(before, planted, after)
    assert {"/workspace", "/tmp", "/dev/shm"} <= set(planted["planted"]), planted
    assert after["leftovers"] == [] and after["ipc"] == [0, 0, 0], after
    assert not any("sleep" in cmd for cmd in after["processes"]), after["processes"]
    agent = "python3 -I /opt/coderunner/agent.py"
    assert after["processes"][agent] == before["processes"][agent]


async def test_a_limit_set_on_the_agent_cannot_break_the_next_run(platform: Running) -> None:
    """Issue #16, reproduction 3: RLIMIT_FSIZE 0 on PID 1 made every later run of the owner end
    internal_error. It is refused now, and the next bash run works."""
    client = await Client.connect(platform.ws_url)
    poison = ("python3 -c 'import resource; resource.prlimit(1, resource.RLIMIT_FSIZE, (0, 0))'"
              " 2>&1 | tail -n 1\n")
    try:
        first = await client.run({"main.sh": poison}, language="bash")
        second = await client.run({"main.sh": f"echo {uuid.uuid4().hex[:6]} > f; cat f\n"},
                                  language="bash")
    finally:
        await client.close()
    assert first.stdout == "PermissionError: [Errno 1] Operation not permitted\n", first.events
    assert (second.verdict, len(second.stdout)) == ("ok", 7), second.events


async def test_ipc_is_gone_even_when_its_mode_shuts_out_its_owner(platform: Running) -> None:
    """Objects with mode 000 (and a POSIX queue where the kernel has them) still go."""
    client = await Client.connect(platform.ws_url)
    plant = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
             "print([libc.shmget(0, 4096, 0o1000), libc.msgget(0, 0o1000),"
             " libc.semget(0, 1, 0o1000)])\n")
    try:
        planted = await client.run({"main.py": plant})
        probe = await client.run({"main.py": PROBE})
    finally:
        await client.close()
    assert all(ident >= 0 for ident in json.loads(planted.stdout)), planted.events
    assert json.loads(probe.stdout)["ipc"] == [0, 0, 0]

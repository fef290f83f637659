"""More hostile programs beside an innocent job: runaway time and output, descriptors, the agent
and Docker out of reach, links and odd file names, compile-time attacks, and a process left
behind to spy on the next run."""

from __future__ import annotations

from textwrap import dedent

import pytest

from tests.conftest import Running
from tests.integration.wsclient import Client
from tests.security.test_attacks import attack, attack_files


async def test_output_without_newlines_is_cut_at_the_cap(platform: Running) -> None:
    result = await attack(platform, "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n",
                          limits={"outputKb": 64})
    assert result.verdict == "output_limit" and result.completion["truncated"]
    assert 0 < len(result.stdout) <= 64 * 1024


@pytest.mark.parametrize("program", ["while True:\n    pass\n",
                                     "import time\ntime.sleep(10 ** 6)\n"],
                         ids=["cpu-spin", "sleep-forever"])
async def test_a_runaway_program_ends_at_its_time_limit(platform: Running, program: str) -> None:
    result = await attack(platform, program, limits={"wallMs": 1000})
    assert result.verdict == "time_limit"
    assert 1000 <= result.completion["wallMs"] < 4000


async def test_the_docker_api_is_out_of_reach(platform: Running) -> None:
    program = dedent("""
        import os, shutil, socket
        for path in ('/var/run/docker.sock', '/run/docker.sock', '/run/containerd'):
            print(path, os.path.exists(path))
        print('docker', shutil.which('docker'))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect('/var/run/docker.sock')
            print('CONNECTED')
        except OSError as exc:
            print('refused', type(exc).__name__)
    """)
    result = await attack(platform, program)
    assert "True" not in result.stdout and "CONNECTED" not in result.stdout
    assert "docker None" in result.stdout


async def test_killing_the_agent_fails_and_the_tab_keeps_working(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        program = dedent("""
            import os, signal
            for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
                try:
                    os.kill(1, sig)
                    print('sent', sig.name)
                except OSError as exc:
                    print(sig.name, exc.strerror)
        """)
        first = await client.run({"main.py": program})
        second = await client.run({"main.py": "print('still here')"})
    finally:
        await client.close()
    assert first.verdict == "ok"
    assert (second.verdict, second.stdout) == ("ok", "still here\n")


async def test_hard_links_to_system_files_fail(platform: Running) -> None:
    program = dedent("""
        import os
        for target in ('/etc/passwd', '/opt/coderunner/agent.py', '/usr/bin/python3'):
            try:
                os.link(target, '/workspace/' + os.path.basename(target))
                print('LINKED', target)
            except OSError as exc:
                print('refused', target, exc.strerror)
    """)
    result = await attack(platform, program)
    assert "LINKED" not in result.stdout and result.stdout.count("refused") == 3


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "a\x00b.py", "dir/../../x.py",
                                  "dir//x.py", "./x.py", "tab\there.py"])
async def test_odd_file_names_are_refused_and_the_socket_stays_usable(
    platform: Running, name: str,
) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        refused = await client.submit({name: "print(1)"}, main=name, request_id="odd")
        assert (refused["type"], refused["code"]) == ("error", "invalid_request"), refused
        fine = await client.run({"main.py": "print('fine')"}, request_id="fine")
        assert fine.stdout == "fine\n"
    finally:
        await client.close()


async def test_ten_thousand_files_are_refused(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        files = {"main.py": "print(1)", **{f"f{n}.txt": "" for n in range(10_000)}}
        refused = await client.submit(files, main="main.py", request_id="many")
        assert (refused["type"], refused["code"]) == ("error", "invalid_request")
    finally:
        await client.close()


@pytest.mark.parametrize(("language", "files"), [
    ("c", {"main.c": '#include "/dev/random"\nint main(void) { return 0; }\n'}),
    ("c", {"main.c": '#include "/dev/zero"\nint main(void) { return 0; }\n'}),
    ("cpp", {"main.cpp": "template <int N> struct F { enum { v = F<N - 1>::v + F<N - 2>::v }; };\n"
                         "int main() { return F<100000>::v; }\n"}),
], ids=["include-dev-random", "include-dev-zero", "template-explosion"])
async def test_compile_time_attacks_end_within_limits(
    platform: Running, language: str, files: dict[str, str],
) -> None:
    result = await attack_files(platform, files, language, limits={"wallMs": 5000})
    assert result.verdict in ("compile_error", "time_limit", "memory_limit", "output_limit")
    assert result.completion["wallMs"] < 15_000


async def test_a_process_left_behind_cannot_spy_on_the_next_run(platform: Running) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        plant = dedent("""
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    while True:
                        with open('/tmp/spy', 'a') as f:
                            f.write('still watching\\n')
                        time.sleep(0.05)
                os._exit(0)
            print('planted')
        """)
        first = await client.run({"main.py": plant})
        look = ("import os\nprint(os.path.exists('/tmp/spy'))\n"
                "print(sorted(open(f'/proc/{p}/comm').read().strip() "
                "for p in os.listdir('/proc') if p.isdigit()))\n")
        second = await client.run({"main.py": look})
    finally:
        await client.close()
    assert first.stdout == "planted\n"
    exists, processes = second.stdout.splitlines()
    assert exists == "False", "the workspace and /tmp were wiped"
    expected = {"runc": 3, "gvisor": 2}[platform.isolation]  # gVisor: no zygote
    assert len(eval(processes)) == expected, f"only the agent, the zygote and this run: {processes}"

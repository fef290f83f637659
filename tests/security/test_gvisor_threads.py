"""The platform's own tools keep working inside a run's process limit under gVisor.

Under gVisor a run's process limit is ``RLIMIT_NPROC`` of the user code's uid, which counts
threads. A Go tool that runs many goroutines at once (TypeScript 7's native checker reads and
checks files in parallel) makes an OS thread for each one blocked in a system call, and gVisor's
ptrace platform makes system calls slow: on a loaded machine the checker reached the limit,
Go's runtime died with ``newosproc`` and a goroutine dump larger than a run's output cap, and a
correct TypeScript program ended ``output_limit`` with no output. The checker runs single
threaded (infra/images/node/ts-check); eight processes are enough for it and for Node.
"""

from __future__ import annotations

from tests.conftest import Running
from tests.integration.wsclient import Client

TYPED_HELLO = "const greeting: string = 'typed';\nconsole.log(greeting);\n"


async def test_typescript_is_checked_and_run_with_eight_processes(
    gvisor_platform: Running,
) -> None:
    client = await Client.connect(gvisor_platform.ws_url)
    try:
        result = await client.run({"main.ts": TYPED_HELLO}, language="typescript",
                                  limits={"processes": 8, "wallMs": 30000})
    finally:
        await client.close()
    assert (result.verdict, result.stdout) == ("ok", "typed\n"), (
        result.completion, result.stderr[:2000])

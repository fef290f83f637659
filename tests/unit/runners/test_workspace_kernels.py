"""A notebook naming a workspace: its kernel starts with the workspace's files, which the agent
writes before it starts the kernel (docs/workspaces.md#running-a-workspace). A started spare
has none, so such a notebook starts its own kernel."""

from __future__ import annotations

from contracts.messages import JobFile
from runners import agent_messages as agent
from tests.unit.runners.test_notebooks import kernels, settled

FILES = [JobFile("data.csv", "a,b\n1,2\n"), JobFile("lib/util.py", "X = 1\n")]


async def test_a_kernel_with_files_is_started_with_them_not_taken_from_the_spares() -> None:
    pool, made, _ = kernels(spares=1)
    pool.start()
    await settled(lambda: pool._spares is not None and pool._spares.ready == 1)
    spare = made[0]
    kernel = await pool._start("nb1", "python", FILES)
    assert kernel.sandbox is not spare
    [start] = [c for c in kernel.sandbox.link.sent  # type: ignore[attr-defined]
               if isinstance(c, agent.StartKernel)]
    assert start.files == [agent.SourceFile("data.csv", "a,b\n1,2\n"),
                           agent.SourceFile("lib/util.py", "X = 1\n")]
    assert (await pool._start("nb2", "python")).sandbox is spare  # no files: the spare
    await pool.close()


def test_a_start_without_files_sends_none_on_the_wire() -> None:
    assert b'"files"' not in agent.encode_request(agent.StartKernel(["python3"], {}))
    with_files = agent.encode_request(agent.StartKernel(["python3"], {}, [
        agent.SourceFile("a.txt", "x")]))
    assert b'"files":[{"name":"a.txt","content":"x"}]' in with_files

"""A run's control (stop, stdin within a window, eof) and its hard end, against a real
AgentLink over a socket pair whose far end plays the agent."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.messages import Control, ControlReply
from runners.agent_messages import AgentRequest, Stdin, Stop
from runners.execution import (
    HARD_END_GRACE_S,
    Overran,
    RunControl,
    RunLimits,
    execute,
    lost_while_ending,
)
from runners.link import AgentGone, AgentLink
from runners.sandbox import Sandbox
from tests.unit.runners.test_execution import PYTHON, job


class Recorder:
    def __init__(self) -> None:
        self.commands: list[AgentRequest] = []
        self.gone = False

    def write_now(self, command: AgentRequest) -> None:
        if self.gone:
            raise AgentGone("gone")
        self.commands.append(command)


def stdin(data: str) -> Control:
    return Control("e1", "stdin", data)


async def test_input_past_the_window_is_refused_and_acknowledged_input_makes_room() -> None:
    agent = Recorder()
    control = RunControl(agent, window=10)
    assert (await control.handle(stdin("123456"))).accepted
    refused = await control.handle(stdin("12345"))
    assert (refused.accepted, refused.code) == (False, "stdin_full")
    assert "10 bytes" in refused.message
    control.acknowledged(6)
    assert (await control.handle(stdin("12345"))).accepted
    assert agent.commands == [Stdin("123456"), Stdin("12345")]


async def test_one_frame_larger_than_the_window_passes_when_nothing_waits() -> None:
    control = RunControl(Recorder(), window=4)
    assert (await control.handle(stdin("é" * 10))).accepted  # 20 bytes
    assert control.unread == 20


async def test_a_stop_is_never_refused_and_moves_the_hard_end_earlier() -> None:
    agent = Recorder()
    control = RunControl(agent, window=1)
    control.wall_end = time.monotonic() + 100
    await control.handle(stdin("xx"))
    assert not (await control.handle(stdin("yy"))).accepted
    assert (await control.handle(Control("e1", "stop"))) == ControlReply()
    assert agent.commands[-1] == Stop()
    assert control.hard_end() <= time.monotonic() + HARD_END_GRACE_S


async def test_control_for_a_gone_agent_is_refused_as_not_found() -> None:
    agent = Recorder()
    agent.gone = True
    reply = await RunControl(agent).handle(Control("e1", "stop"))
    assert (reply.accepted, reply.code) == (False, "not_found")


@pytest.fixture
async def agent_pair() -> AsyncIterator[tuple[AgentLink, socket.socket]]:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    link = AgentLink(reader, writer, "test")
    theirs.setblocking(False)
    yield link, theirs
    await link.close()
    theirs.close()


def frame(event: dict[str, Any]) -> bytes:
    payload = json.dumps(event).encode() + b"\n"
    return struct.pack(">BxxxI", 1, len(payload)) + payload


async def run(link: AgentLink, control: RunControl, wall_ms: int) -> Any:
    sandbox = Sandbox("c" * 64, "python", link, 256, 64)
    limits = RunLimits(wall_ms=wall_ms, cpu_ms=wall_ms, memory_mb=256, output_bytes=1024,
                    processes=64)

    async def publish(_: Any) -> None:
        pass

    return await execute(sandbox, job(), PYTHON, limits, publish, 0, control=control)


async def test_an_agent_that_never_reports_overruns_at_the_wall_limit_plus_the_grace(
    agent_pair: tuple[AgentLink, socket.socket],
) -> None:
    link, _ = agent_pair
    started = time.monotonic()
    with pytest.raises(Overran) as overran:
        await run(link, RunControl(link), wall_ms=100)
    took = time.monotonic() - started
    assert overran.value.verdict == "time_limit"
    assert 0.1 + HARD_END_GRACE_S <= took  # never before the hard end


async def test_a_stop_the_agent_does_not_act_on_overruns_as_cancelled(
    agent_pair: tuple[AgentLink, socket.socket],
) -> None:
    link, _ = agent_pair
    control = RunControl(link)
    control.stopped_at = time.monotonic()
    with pytest.raises(Overran) as overran:
        await run(link, control, wall_ms=60_000)
    assert overran.value.verdict == "cancelled"


async def test_acknowledgements_free_the_window_and_done_ends_the_run(
    agent_pair: tuple[AgentLink, socket.socket],
) -> None:
    link, agent = agent_pair
    control = RunControl(link)
    control.unread = 100
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(agent, frame({"ev": "stdin_ack", "bytes": 60}))
    await loop.sock_sendall(agent, frame({"ev": "done", "phase": "run", "exitCode": 0}))
    completion = await run(link, control, wall_ms=10_000)
    assert (completion.verdict, control.unread) == ("ok", 40)


def test_a_sandbox_lost_while_the_run_ends_keeps_the_verdict_it_was_ending_with() -> None:
    """Past the wall limit: time_limit; after a stop before it: cancelled; before either: None
    (the runner then looks for an OOM kill, else internal_error)."""
    control = RunControl(Recorder())
    assert lost_while_ending(control, time.monotonic()) is None  # not started: no wall end
    control.wall_end = 100.0
    assert lost_while_ending(control, 99.0) is None
    assert lost_while_ending(control, 100.0) == (
        "time_limit",
        "the program reached its wall limit; its sandbox was lost as it ended the run")
    control.stopped_at = 50.0
    assert lost_while_ending(control, 60.0) == (
        "cancelled", "the run was stopped; its sandbox was lost as it ended the run")
    control.stopped_at = 120.0  # a stop after the wall limit: the limit ended it
    assert lost_while_ending(control, 120.5)[0] == "time_limit"  # type: ignore[index]

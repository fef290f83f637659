"""The runner's side of the agent protocol: each line decodes once into its event, and anything
else is a typed error, never a crash (tests/integration/test_agent_protocol.py decodes what the
real agent emits)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct

import msgspec
import pytest

from runners import link as link_module
from runners.agent_messages import (
    MAX_EVENT_BYTES,
    BadAgentMessage,
    Done,
    FromKernel,
    Helper,
    Output,
    Prepare,
    RestartKernel,
    StdinAck,
    decode_event,
    encode_request,
)
from runners.link import AgentGone, AgentLink, AgentMisbehaved


def test_a_done_event_decodes_with_defaults_for_what_the_agent_left_out() -> None:
    event = decode_event(b'{"ev":"done","phase":"setup","error":"bad name"}')
    assert event == Done(phase="setup", error="bad name")
    assert (event.wall_ms, event.exit_code, event.cpu_ms) == (None, None, 0)


def test_events_decode_to_their_types() -> None:
    assert decode_event(b'{"ev":"stdin_ack","bytes":5}') == StdinAck(5)
    assert decode_event(b'{"ev":"out","stream":"stderr","data":"x"}') == Output("stderr", "x")
    assert decode_event(b'{"ev":"kernel","data":{"msg":"ready"}}') == FromKernel({"msg": "ready"})


@pytest.mark.parametrize("line", [
    b"not json",
    b'{"ev":"done"}',  # no phase
    b'{"ev":"surprise"}',
    b'{"ev":"out","stream":"stdin","data":"x"}',
    b'{"ev":"stdin_ack","bytes":-1}',
    b'{"ev":"done","phase":"run","signal":"' + b"S" * 17 + b'"}',
    b'{"ev":"kernel","data":[1]}',
    b'{"ev":"kernel","data":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    b'["ev","pong"]',
])
def test_a_line_that_is_no_event_is_a_bad_agent_message(line: bytes) -> None:
    with pytest.raises(BadAgentMessage):
        decode_event(line)


def test_a_line_past_the_bound_is_refused_before_it_is_parsed() -> None:
    line = b'{"ev":"out","stream":"stdout","data":"' + b"x" * MAX_EVENT_BYTES + b'"}'
    with pytest.raises(BadAgentMessage, match="bytes"):
        decode_event(line)


def test_requests_are_json_lines_tagged_by_op_leaving_out_what_is_not_asked() -> None:
    prepare = json.loads(encode_request(Prepare(compile_server=Helper(["javac-server"], {}))))
    assert prepare == {"op": "prepare", "compileServer": {"argv": ["javac-server"], "env": {}}}
    assert encode_request(RestartKernel()) == b'{"op":"restart_kernel"}\n'


def frame(payload: bytes) -> bytes:
    return struct.pack(">BxxxI", 1, len(payload)) + payload


async def test_a_link_whose_agent_sends_a_bad_line_ends_as_misbehaved() -> None:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    link = AgentLink(reader, writer, "test")
    try:
        theirs.sendall(frame(b'{"ev":"pong"}\n{"ev":"pong","x":\n{"ev":"pong"}\n'))
        first = await link.next_event(timeout=5)
        with pytest.raises(AgentMisbehaved, match="not an agent event"):
            await link.next_event(timeout=5)
        assert msgspec.json.encode(first) == b'{"ev":"pong"}'
        assert link.closed
    finally:
        await link.close()
        theirs.close()


async def test_a_line_that_never_ends_is_cut_at_the_bound() -> None:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    link = AgentLink(reader, writer, "test")
    chunk = frame(b"x" * 65536)
    try:
        async def flood() -> None:
            loop = asyncio.get_running_loop()
            theirs.setblocking(False)
            for _ in range(MAX_EVENT_BYTES // 65536 + 2):
                await loop.sock_sendall(theirs, chunk)

        sender = asyncio.create_task(flood())
        with pytest.raises(AgentMisbehaved, match="longer than"):
            await link.next_event(timeout=30)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    finally:
        await link.close()
        theirs.close()


async def test_a_flood_nobody_takes_stops_the_link_reading_until_it_is_taken(
        monkeypatch: pytest.MonkeyPatch) -> None:
    bound = 1024 * 1024
    monkeypatch.setattr(link_module, "MAX_QUEUED_BYTES", bound)
    line = b'{"ev":"out","stream":"stdout","data":"' + b"x" * 65_000 + b'"}\n'
    count = 3 * bound // len(line)
    reader = asyncio.StreamReader()
    reader.feed_data(frame(line) * count)
    reader.feed_eof()
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    link = AgentLink(reader, writer, "test")
    try:
        async def past_the_bound() -> None:
            while link.backlog_bytes <= bound:
                await asyncio.sleep(0)

        await asyncio.wait_for(past_the_bound(), 5)
        for _ in range(1000):  # every chance to read on
            await asyncio.sleep(0)
        assert not link.closed, "the link read to the end of the stream"
        assert link.backlog_bytes <= bound + len(line)
        taken = [await link.next_event(timeout=5) for _ in range(count)]
        assert taken == [Output("stdout", "x" * 65_000)] * count
        with pytest.raises(AgentGone):
            await link.next_event(timeout=5)
    finally:
        await link.close()
        theirs.close()


async def test_a_line_waits_as_bytes_and_is_decoded_when_taken() -> None:
    """A decoded event can be many times its line ([[],[],...]: 20x), so the link keeps the
    lines it has not handed out as bytes; a bad one ends the link when it is taken."""
    good = b'{"ev":"out","stream":"stdout","data":"a"}\n'
    reader = asyncio.StreamReader()
    reader.feed_data(frame(good) + frame(b'{"ev":"nonsense"}\n') + frame(good))
    reader.feed_eof()
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    link = AgentLink(reader, writer, "test")
    try:
        async def all_read() -> None:  # the stream's end reached: every line is queued
            while not link.closed:
                await asyncio.sleep(0)

        await asyncio.wait_for(all_read(), 5)
        queued = list(link._events._queue)  # type: ignore[attr-defined]
        assert [type(item) for item in queued] == [bytes, bytes, bytes, type(None)]
        assert await link.next_event(timeout=5) == Output("stdout", "a")
        with pytest.raises(AgentMisbehaved):
            await link.next_event(timeout=5)
        with pytest.raises(AgentMisbehaved):  # and nothing after it is taken
            await link.next_event(timeout=5)
    finally:
        await link.close()
        theirs.close()

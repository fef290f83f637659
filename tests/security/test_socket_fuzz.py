"""Bad input on the browser socket: malformed and mistyped frames, unknown types, binary frames,
frames too large or nested too deep, NUL bytes, numbers too large, unicode edge cases (lone
surrogates, overlong UTF-8, byte order marks, bidirectional overrides), and floods of stdin for
executions that are not the sender's. Each gets a clear answer; the connection, and everyone
else's, keeps working."""

from __future__ import annotations

import json
import random
import string

import pytest
import websockets

from tests.conftest import Running
from tests.integration.wsclient import Client

MALFORMED = [
    "", "{", "[]", "null", "42", '"text"', "{}", '{"type":null}', '{"type":"execute_code"}',
    '{"type":"nope"}', '{"type":"stdin"}', '{"type":"stop","executionId":5}',
    '{"type":"execute_code","language":7,"files":[],"mainFile":"a"}',
    '{"type":"execute_code","language":"python","files":"x","mainFile":"a"}',
    '{"type":"execute_code","language":"python","files":[{"name":"a"}],"mainFile":"a"}',
    '{"type":"execute_code","language":"python","files":[{"name":"a","content":"x"}],'
    '"mainFile":"a","limits":{"wallMs":-1}}',
    '{"type":"execute_code","language":"python","files":[{"name":"a","content":"x"}],'
    '"mainFile":"a","args":[1,2]}',
    '{"type":"stdin","executionId":"' + "x" * 200 + '","data":"a"}',
    '{"type":"attach"}', '{"type":"attach","executionId":"' + "0" * 32 + '"}',
    '{"type":"notebook_open","kernel":"cobol"}', '{"type":"notebook_open","notebookId":"../x"}',
    '{"type":"notebook_execute","notebookId":"nb","cellId":"c","code":"1"}',
    '{"type":"notebook_execute","notebookId":"nb","cellId":"c","code":7}',
    '{"type":"notebook_restart","notebookId":"never-opened"}', '{"type":"notebook_close"}',
    "\x00\x01\x02",
]
PROGRAM = '"language":"python","files":[{"name":"a.py","content":"print(1)"}],"mainFile":"a.py"'
HOSTILE = [
    # nesting, deep and unbalanced, where an object is wanted and in fields unknown or unread
    "[" * 200_000 + "]" * 200_000, "{" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
    '{"zzz":' + "[" * 100_000 + "]" * 100_000 + ',"type":"stop"}',
    '{"type":"execute_code",' + PROGRAM + ',"limits":' + '{"wallMs":' * 1000 + "1" + "}" * 1001,
    "[]," * 60_000,
    # NUL where a process or a file system would cut the string
    '{"type":"execute_code",' + PROGRAM + ',"args":["a\\u0000b"]}',
    '{"type":"execute_code","language":"python","files":[{"name":"a\\u0000.py","content":""}],'
    '"mainFile":"a\\u0000.py"}',
    '{"type":"stop","executionId":"abc\\u0000"}', '{"type":"attach","executionId":"\\u0000"}',
    '{"type":"execute_code\\u0000",' + PROGRAM + "}",
    # numbers too large for any field, or for any number
    '{"type":"execute_code",' + PROGRAM + ',"limits":{"wallMs":18446744073709551616}}',
    '{"type":"execute_code",' + PROGRAM + ',"limits":{"wallMs":1e400}}',
    '{"type":"execute_code",' + PROGRAM + ',"limits":{"memoryMb":-1' + "0" * 5000 + "}}",
    '{"type":"stdin","executionId":"x","data":"a","eof":1' + "0" * 100_000 + "}",
    # unicode edge cases: lone surrogates, a byte order mark, bidirectional overrides
    '{"type":"stop","executionId":"\\ud800"}', '{"type":"stop","executionId":"\\udc00x"}',
    "\ufeff" + '{"type":"stop","executionId":"abc"}',
    '{"type":"execute_code","language":"python","files":[{"name":"\\u202egnp.py","content":""}],'
    '"mainFile":"\\u202egnp.py"}',
    '{"type":"execute_code","language":"python\\u202e",' + PROGRAM[20:] + "}",
    '{"type":"notebook_open","notebookId":"\\u0661\\u0662"}',
]


def random_frames(count: int, seed: int = 7) -> list[str]:
    """Random JSON-ish text: objects with random keys and values, and raw noise."""
    rng = random.Random(seed)
    values: list[object] = [None, True, 0, -1, 2**70, 1.5, "", "x" * 300, [], {}, [1, "a"]]
    frames = []
    for _ in range(count):
        if rng.random() < 0.3:
            frames.append("".join(rng.choice(string.printable) for _ in range(rng.randint(1, 80))))
            continue
        frame = {rng.choice(["type", "language", "files", "mainFile", "executionId", "data",
                             "eof", "limits", "requestId", "zzz"]): rng.choice(values)
                 for _ in range(rng.randint(0, 6))}
        frame["type"] = rng.choice(["execute_code", "stdin", "stop", "attach", "notebook_execute",
                                    "notebook_interrupt", "notebook_restart", "x", 3])
        frames.append(json.dumps(frame))
    return frames


async def test_malformed_and_random_frames_get_errors_and_the_socket_keeps_working(
    platform: Running,
) -> None:
    client = await Client.connect(platform.ws_url)
    try:
        for frame in MALFORMED + HOSTILE + random_frames(300):
            await client.send(frame)
            answer = await client.receive()
            assert answer["type"] == "error", (frame, answer)
            assert answer["code"] in ("invalid_request", "not_found", "unknown_language")
            assert answer["message"]
        result = await client.run({"main.py": "print('still serving')"})
        assert result.stdout == "still serving\n"
    finally:
        await client.close()


async def test_binary_frames_are_read_as_text_or_refused(platform: Running) -> None:
    async with websockets.connect(platform.ws_url) as ws:
        await ws.recv()  # the session frame
        await ws.send(b"\xff\xfe\x00garbage")
        assert json.loads(await ws.recv())["code"] == "invalid_request"
        await ws.send(json.dumps({"type": "stop", "executionId": "abc"}).encode())
        assert json.loads(await ws.recv())["code"] == "not_found"


@pytest.mark.parametrize("frame", [
    b'{"type":"stop","executionId":"\xc0\xaf"}',  # overlong UTF-8 for "/"
    b'{"type":"stop","executionId":"\xed\xa0\x80"}',  # a UTF-16 surrogate encoded in UTF-8
    b"\xef\xbb\xbf" + b'{"type":"stop","executionId":"abc"}',  # a byte order mark
    b"[" * 100_000,
])
async def test_binary_frames_in_bad_utf8_or_nested_deep_get_invalid_request(
    platform: Running, frame: bytes,
) -> None:
    async with websockets.connect(platform.ws_url) as ws:
        await ws.recv()  # the session frame
        await ws.send(frame)
        assert json.loads(await ws.recv())["code"] == "invalid_request"
        await ws.send(json.dumps({"type": "stop", "executionId": "abc"}))
        assert json.loads(await ws.recv())["code"] == "not_found"


async def test_a_text_frame_of_invalid_utf8_closes_only_that_socket(platform: Running) -> None:
    """RFC 6455 requires it (close code 1007); binary frames are read with replacement."""
    bystander = await Client.connect(platform.ws_url)
    try:
        async with websockets.connect(platform.ws_url) as ws:
            await ws.recv()
            await ws.send(b'{"type":"stop","executionId":"\xc0\xaf"}', text=True)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
        result = await bystander.run({"main.py": "print('unharmed')"})
        assert result.stdout == "unharmed\n"
    finally:
        await bystander.close()


async def test_a_ten_megabyte_frame_closes_only_that_socket(platform: Running) -> None:
    bystander = await Client.connect(platform.ws_url)
    try:
        async with websockets.connect(platform.ws_url, max_size=None) as ws:
            await ws.recv()
            await ws.send("x" * (10 * 1024 * 1024))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        result = await bystander.run({"main.py": "print('unharmed')"})
        assert result.stdout == "unharmed\n"
    finally:
        await bystander.close()


async def test_a_flood_of_stdin_for_someone_elses_execution_reaches_nothing(
    platform: Running,
) -> None:
    victim, attacker = await Client.connect(platform.ws_url), await Client.connect(platform.ws_url)
    try:
        queued = await victim.submit({"main.py": "print(input())"})
        target = queued["executionId"]
        for _ in range(500):
            await attacker.send({"type": "stdin", "executionId": target, "data": "pwned\n"})
        await attacker.send({"type": "stop", "executionId": target})
        refusals = [await attacker.receive() for _ in range(501)]
        assert {r["code"] for r in refusals} == {"not_found"}
        await victim.send({"type": "stdin", "executionId": target, "data": "mine\n"})
        result = await victim.collect(target)
        assert (result.verdict, result.stdout) == ("ok", "mine\n")
    finally:
        await victim.close()
        await attacker.close()

"""The agent relays what a notebook's kernel bridge prints (runners/agent/agent_kernels.py): the
bridge runs as the sandbox user, so whatever it prints must never take the agent down."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest

from contracts.settings import REPO_ROOT
from runners.agent_messages import decode_event

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
KernelProcess: Any = importlib.import_module("agent_kernels").KernelProcess


def test_a_line_of_the_bridge_is_wrapped_as_a_kernel_event(
        capfd: pytest.CaptureFixture[str]) -> None:
    KernelProcess.relay(b'{"msg":"ready"}')
    assert capfd.readouterr().out == '{"ev":"kernel","data":{"msg":"ready"}}\n'


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]",
                                  b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
def test_a_line_that_is_no_json_object_is_dropped(
        line: bytes, capfd: pytest.CaptureFixture[str]) -> None:
    KernelProcess.relay(line)
    assert capfd.readouterr().out == ""


@pytest.mark.parametrize("line", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": "\\ud800"}'])
def test_a_line_the_runner_could_not_decode_becomes_dropped(
        line: bytes, capfd: pytest.CaptureFixture[str]) -> None:
    """Python's json reads NaN and lone surrogates; the runner's strict decoder refuses them
    and would end the kernel's link (its state lost) for a line any cell can print."""
    KernelProcess.relay(line)
    out = capfd.readouterr().out
    assert out == '{"ev":"kernel","data":{"msg":"dropped"}}\n'
    decode_event(out.encode().rstrip())


def test_text_travels_as_utf_8_not_escapes(capfd: pytest.CaptureFixture[str]) -> None:
    KernelProcess.relay('{"text":"жж"}'.encode())
    assert capfd.readouterr().out == '{"ev":"kernel","data":{"text":"жж"}}\n'

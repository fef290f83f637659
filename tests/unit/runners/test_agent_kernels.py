"""The agent relays what a notebook's kernel bridge prints (runners/agent/agent_kernels.py): the
bridge runs as the sandbox user, so whatever it prints must never take the agent down."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest

from contracts.settings import REPO_ROOT

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

"""A sandbox under gVisor: runsc (no network stack) or runsc-net (a session network), the
program's process limit as RLIMIT_NPROC, and the pids cgroup only a backstop."""

from __future__ import annotations

from typing import Any

from contracts.runtimes import Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners.sandbox import Attachment, container_config

RUNTIME = Runtime(
    name="python", display_name="Python", extension=".py", image="python", run=["python3"],
    limits=RuntimeLimits(memory_mb=256, processes=64),
)
SETTINGS = RunnerSettings(runner_id="r1")


def ulimits(host: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {u["Name"]: (u["Soft"], u["Hard"]) for u in host["ulimits"]}


def test_runc_is_the_default_and_has_no_process_rlimit() -> None:
    host = container_config(RUNTIME, SETTINGS, "i")["host_config"]
    assert "runtime" not in host
    assert host["pids_limit"] == 64
    assert "nproc" not in ulimits(host)


def test_gvisor_without_a_network_runs_runsc_with_nproc_as_the_process_limit() -> None:
    config = container_config(RUNTIME, SETTINGS, "i", isolation="gvisor")
    host = config["host_config"]
    assert host["runtime"] == "runsc"
    assert config["network_disabled"] is True and host["network_mode"] == "none"
    assert ulimits(host)["nproc"] == (64, 64)
    assert host["pids_limit"] == 64 + 64 * 64
    assert host["mem_limit"] == host["memswap_limit"] == "256m"


def test_gvisor_on_a_session_network_runs_runsc_net() -> None:
    attachment = Attachment("cr-net-1", "main", "s1")
    host = container_config(RUNTIME, SETTINGS, "i", attachment, isolation="gvisor")["host_config"]
    assert host["runtime"] == "runsc-net"
    assert host["network_mode"] == "cr-net-1"


def test_a_gvisor_kernel_gets_the_kernel_process_limit_as_nproc() -> None:
    host = container_config(RUNTIME, SETTINGS, "i", kernel=True, isolation="gvisor")["host_config"]
    assert ulimits(host)["nproc"] == (128, 128)
    assert host["pids_limit"] == 64 + 64 * 128

"""Every sandbox container is created with the full hardening, by default."""

from __future__ import annotations

from contracts.runtimes import Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners.sandbox import SANDBOX_UID, container_config

RUNTIME = Runtime(
    name="python", display_name="Python", extension=".py", image="python", run=["python3"],
    limits=RuntimeLimits(memory_mb=256, processes=64),
)


def config() -> dict:  # type: ignore[type-arg]
    return container_config(RUNTIME, RunnerSettings(runner_id="r1"), "inst1")


def test_no_network_no_privileges_and_only_the_agents_three_capabilities() -> None:
    """The agent starts as container root with SETUID, SETGID and KILL only, to run user code
    as SANDBOX_UID (tests/security prove that user code is never root and has no capability)."""
    c = config()
    host = c["host_config"]
    assert c["network_disabled"] is True and host["network_mode"] == "none"
    assert host["cap_drop"] == ["ALL"]
    assert host["cap_add"] == ["SETUID", "SETGID", "KILL"]
    assert "no-new-privileges" in host["security_opt"]
    assert host["privileged"] is False
    assert c["user"] == "0:0" and SANDBOX_UID != 0


def test_resources_are_bounded_and_swap_equals_memory() -> None:
    host = config()["host_config"]
    assert host["pids_limit"] == 64
    assert host["mem_limit"] == host["memswap_limit"] == "256m"
    assert host["nano_cpus"] == 1_000_000_000
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in host["ulimits"]}
    assert ulimits["core"] == (0, 0)
    assert {"nofile", "fsize", "stack"} <= set(ulimits)


def test_read_only_root_with_capped_nosuid_tmpfs_and_no_host_mounts() -> None:
    c = config()
    host = c["host_config"]
    assert host["read_only"] is True
    assert set(host["tmpfs"]) == {"/workspace", "/tmp"}
    for options in host["tmpfs"].values():
        assert "nosuid" in options and "nodev" in options and "size=" in options
    assert "binds" not in host and "volumes" not in c and "mounts" not in host
    assert host["init"] is False, "the agent itself is PID 1: no init holds its stdout"


def test_only_allow_listed_environment_and_our_labels() -> None:
    c = config()
    assert set(c["environment"]) == {"PATH", "LANG", "HOME"}
    assert c["labels"]["coderunner.managed"] == "1"
    assert c["labels"]["coderunner.runner"] == "r1"
    assert c["labels"]["coderunner.instance"] == "inst1"
    assert int(c["labels"]["coderunner.expires"]) > 0

"""Hardened sandbox containers on one Docker engine: the only module that talks to Docker.

Every container gets the full hardening of ``shared/sandbox-hardening.md``: no network, user
code never root and without any capability, no-new-privileges, the default seccomp profile, pids,
memory (= memory + swap) and CPU limits, a read-only root with size-capped ``nosuid,nodev``
tmpfs for the workspace and /tmp, ulimits, the agent as a reaping PID 1, and only allow-listed
environment variables. The runner never mounts anything from the host.

A sandbox's agent (PID 1) starts as container root with ``--cap-drop ALL`` and only
``PLATFORM_CAPABILITIES`` added back, so that user code can run under a uid of its own
(``SANDBOX_UID``) that no platform process has: it cannot signal, prlimit or renice the agent
or its zygote (runners/agent/agent_users.py). Session databases run as the sandbox user with no
capability at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import docker
import docker.errors
import requests
from docker.types import Mount, Ulimit

from contracts import labels
from contracts.messages import Isolation
from contracts.packages import LAYER_MOUNT, LAYER_USER
from contracts.runtimes import Runtime, strongest
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.link import AgentLink

log = logging.getLogger(__name__)

SANDBOX_UID = 10001
MAX_LIFETIME_S = 3600
"""A sandbox older than this is removed by the janitor whatever the runner thinks of it."""
WORKSPACE_MB = 64
FILE_SIZE_BYTES = 64 * 1024 * 1024
STACK_HARD_BYTES = 64 * 1024 * 1024
"""The sandbox's hard stack limit (its soft one is 8 MiB): no step may set its own higher."""
KERNEL_PROCESSES = 128
"""A Jupyter kernel runs a dozen threads before the first cell."""
PLATFORM_CAPABILITIES = ["SETUID", "SETGID", "KILL"]
"""The agent's only capabilities: to start user code as ``SANDBOX_UID`` (which clears them in
that process) and to kill every user process at once."""
FREEZE_WAIT_S = 0.5
"""How long taking a sandbox away waits for its freeze before the run's completion is sent."""
OOM_EVENT_WAIT_S = 2
"""How long an OOM event may trail the exit of the container it killed."""
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/workspace"}
GVISOR_RUNTIMES = {False: "runsc", True: "runsc-net"}
"""Docker runtime names of gVisor (infra/setup/ensure-docker.sh registers them), by whether the
sandbox is on a session network: without one, gVisor runs with no network stack at all."""
GVISOR_HOST_TASKS = (64, 64)
"""Under gVisor (ptrace) the pids cgroup counts the host threads of gVisor itself: about 40 at
rest, 5 more per idle process of the program, and 1 400-1 650 in all while a C fork bomb of 64
processes forks and dies (more on a loaded machine). gVisor dies when that cgroup is full, so it
is only a backstop of 64 + 64 per process; the program's process limit is RLIMIT_NPROC, which
gVisor's kernel counts inside the sandbox."""


class SandboxError(Exception):
    """A sandbox container could not be created or started."""


class LimitsFixed(SandboxError):
    """runsc cannot change a running sandbox's limits (it has no ``update``)."""


class EngineUnavailable(SandboxError):
    """The Docker engine did not answer: stopped, restarting, or its socket gone."""


@contextlib.contextmanager
def engine_answers(what: str) -> Iterator[None]:
    """Turn the Docker SDK's connection errors (plain ``requests`` exceptions, which are not
    ``DockerException``s) into ``EngineUnavailable``."""
    try:
        yield
    except requests.RequestException as exc:
        raise EngineUnavailable(f"{what}: the Docker engine did not answer ({exc})") from exc


@dataclass
class Sandbox:
    """A started container whose agent is ready, and what the runner knows of it."""

    container_id: str
    language: str
    link: AgentLink
    memory_mb: int
    processes: int
    last_used: float = field(default_factory=time.monotonic)
    network: str | None = None
    """The session network it is on, if any."""
    isolation: Isolation = "runc"
    attachment: Attachment | None = None
    packages: str | None = None
    """The package layer (a volume) mounted read-only in it, if any: reused only for a run
    with the same layer."""
    packages_at: str = LAYER_MOUNT

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


@dataclass(frozen=True)
class Attachment:
    """A session network a sandbox joins, under a host name other sandboxes reach it by."""

    network: str
    alias: str
    session: str


def container_config(
    runtime: Runtime, settings: RunnerSettings, instance: str,
    attachment: Attachment | None = None, kernel: bool = False, isolation: Isolation = "runc",
    packages: str | None = None, packages_at: str = LAYER_MOUNT,
) -> dict[str, Any]:
    """Keyword arguments for ``APIClient.create_container``, hardening included; ``packages``
    is a package layer's volume, mounted read-only (docs/packages.md)."""
    config = _hardened(runtime, settings, instance)
    if packages is not None:
        config["labels"][LAYER_USER] = packages
        config["host_config"]["mounts"] = [
            Mount(packages_at, packages, type="volume", read_only=True, no_copy=True)]
    config["user"] = "0:0"  # the agent; it starts user code as SANDBOX_UID
    config["host_config"]["cap_add"] = list(PLATFORM_CAPABILITIES)
    if kernel:
        # A notebook's kernel: lives while it is used (the runner removes it after KERNEL_TTL
        # idle, the janitor when its runner is gone), with room for a data library or two.
        memory = f"{min(settings.kernel_memory_mb, settings.max_memory_mb)}m"
        config["labels"][labels.ROLE] = "kernel"
        config["labels"].pop(labels.EXPIRES)
        config["host_config"].update(mem_limit=memory, memswap_limit=memory,
                                     pids_limit=min(KERNEL_PROCESSES, settings.max_processes))
    if attachment is not None:
        # An internal bridge of the owner's alone: no route out, none to the host.
        # Peers find it by its alias; its own host name stays the container's short id.
        config["network_disabled"] = False
        config["host_config"]["network_mode"] = attachment.network
        config["labels"][labels.SESSION] = attachment.session
    if isolation == "gvisor":
        _under_gvisor(config["host_config"], attachment is not None)
    return config


def _under_gvisor(host_config: dict[str, Any], networked: bool) -> None:
    processes = host_config["pids_limit"]
    base, per_process = GVISOR_HOST_TASKS
    host_config["runtime"] = GVISOR_RUNTIMES[networked]
    host_config["pids_limit"] = base + per_process * processes
    host_config["ulimits"] = [*host_config["ulimits"],
                              Ulimit(name="nproc", soft=processes, hard=processes)]


def _hardened(runtime: Runtime, settings: RunnerSettings, instance: str) -> dict[str, Any]:
    memory = f"{runtime.limits.memory_mb}m"
    tmpfs_opts = "rw,nosuid,nodev,exec"
    return {
        "image": runtime.image_tag,
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "stdin_open": True,
        "tty": False,
        "network_disabled": True,
        "working_dir": "/workspace",
        "environment": dict(BASE_ENV),
        "labels": {
            labels.MANAGED: "1",
            labels.PLATFORM: settings.platform_id,
            labels.RUNNER: settings.runner_id,
            labels.INSTANCE: instance,
            labels.LANGUAGE: runtime.name,
            labels.ROLE: "sandbox",
            labels.EXPIRES: str(int(time.time()) + MAX_LIFETIME_S),
        },
        "host_config": {
            "network_mode": "none",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "privileged": False,
            "pids_limit": runtime.limits.processes,
            "mem_limit": memory,
            "memswap_limit": memory,
            "nano_cpus": 1_000_000_000,
            "read_only": True,
            "tmpfs": {
                "/workspace": f"{tmpfs_opts},size={WORKSPACE_MB}m,uid={SANDBOX_UID},"
                f"gid={SANDBOX_UID},mode=0700",
                "/tmp": f"{tmpfs_opts},size={runtime.limits.tmp_mb}m,mode=1777",
            },
            "ulimits": [
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nofile", soft=256, hard=256),
                Ulimit(name="fsize", soft=FILE_SIZE_BYTES, hard=FILE_SIZE_BYTES),
                Ulimit(name="stack", soft=8 * 1024 * 1024, hard=STACK_HARD_BYTES),
            ],
            # No docker-init: the agent is PID 1, so that no other process (which user code
            # could ptrace) holds the stdout the runner reads events from.
            "init": False,
            "auto_remove": False,
        },
    }


def endpoints(network: str, alias: str) -> dict[str, Any]:
    """The ``NetworkingConfig`` body that joins ``network`` under ``alias``."""
    return {"EndpointsConfig": {network: {"Aliases": [alias]}}}


class DockerSandboxes:
    """Creates and removes sandbox containers; blocking Docker calls run in threads."""

    def __init__(self, settings: RunnerSettings, instance: str) -> None:
        self._settings = settings
        self._instance = instance
        base_url = settings.docker_host or "unix:///var/run/docker.sock"
        self._client = docker.DockerClient(base_url=base_url, timeout=60)
        self._api = self._client.api

    async def create(self, runtime: Runtime, attachment: Attachment | None = None,
                     kernel: bool = False, isolation: Isolation = "runc",
                     packages: str | None = None, packages_at: str = LAYER_MOUNT) -> Sandbox:
        config = container_config(runtime, self._settings, self._instance, attachment, kernel,
                                  isolation, packages, packages_at)
        host_config = self._api.create_host_config(**config.pop("host_config"))
        if attachment is not None:
            config["networking_config"] = endpoints(attachment.network, attachment.alias)
        try:
            with engine_answers(f"cannot create a {runtime.name} container"):
                created = await asyncio.to_thread(
                    self._api.create_container, host_config=host_config, **config
                )
        except docker.errors.DockerException as exc:
            raise SandboxError(f"cannot create a {runtime.name} container: {exc}") from exc
        container_id: str = created["Id"]
        try:
            link = await self._attach(container_id)
            await asyncio.to_thread(self._api.start, container_id)
            ready = await link.next_event(timeout=self._settings.agent_timeout_s * 2)
            if not isinstance(ready, agent.Ready):
                raise SandboxError(f"agent sent {ready!r} instead of ready")
            # gVisor (this runsc) ignores CLONE_PARENT: a fork server's programs would stay its
            # children, out of the agent's sight. Under gVisor run steps exec.
            fork_server = runtime.fork_server if isolation == "runc" else None
            if (fork_server or runtime.compile_server) and not kernel:
                await self._prepare(link, runtime, fork_server)
        except BaseException as exc:
            await self.remove(container_id)
            if isinstance(exc, requests.RequestException):
                raise EngineUnavailable(f"cannot start a {runtime.name} container: {exc}"
                                        ) from exc
            if isinstance(exc, Exception) and not isinstance(exc, SandboxError):
                raise SandboxError(f"cannot start a {runtime.name} container: {exc}") from exc
            raise
        limits = runtime.limits
        memory_mb, processes = limits.memory_mb, limits.processes
        if kernel:
            memory_mb = min(self._settings.kernel_memory_mb, self._settings.max_memory_mb)
            processes = min(KERNEL_PROCESSES, self._settings.max_processes)
        return Sandbox(container_id, runtime.name, link, memory_mb, processes,
                       network=attachment.network if attachment else None, isolation=isolation,
                       attachment=attachment, packages=packages, packages_at=packages_at)

    async def _prepare(self, link: AgentLink, runtime: Runtime,
                       fork_server: list[str] | None) -> None:
        """Start the runtime's warm helpers in the sandbox (a fork server, a compile server)."""
        env = {**BASE_ENV, **runtime.env}
        command = agent.Prepare(
            zygote=agent.Helper(fork_server, env) if fork_server else None,
            compile_server=agent.Helper(runtime.compile_server, env)
            if runtime.compile_server else None)
        await link.send(command)
        answer = await link.next_event(timeout=self._settings.agent_timeout_s)
        if not isinstance(answer, agent.Prepared) or not answer.ok:
            log.warning("%s: the fork server did not start; runs will exec", runtime.name)

    async def _attach(self, container_id: str) -> AgentLink:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        response_socket = await asyncio.to_thread(
            self._api.attach_socket, container_id, params=params
        )
        raw = getattr(response_socket, "_sock", response_socket)
        sock = socket.socket(raw.family, raw.type, fileno=os.dup(raw.fileno()))
        response_socket.close()
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return AgentLink(reader, writer, container_id[:12])

    async def set_limits(self, sandbox: Sandbox, memory_mb: int, processes: int) -> None:
        """Change a container's memory (swap kept equal) and process limits before a run; one
        Docker call, and none when they are already right."""
        if (memory_mb, processes) == (sandbox.memory_mb, sandbox.processes):
            return
        if sandbox.isolation == "gvisor":
            raise LimitsFixed(f"{sandbox.short_id} runs under gVisor")
        size = memory_mb * 1024 * 1024
        body = {"Memory": size, "MemorySwap": size, "PidsLimit": processes}

        api = self._api
        url = f"{api.base_url}/v{api.api_version}/containers/{sandbox.container_id}/update"

        def update() -> None:  # docker-py's update_container has no PidsLimit
            api.post(url, json=body, timeout=30).raise_for_status()

        try:
            await asyncio.to_thread(update)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise SandboxError(f"cannot set the limits of {sandbox.short_id}: {exc}") from exc
        sandbox.memory_mb, sandbox.processes = memory_mb, processes

    async def oom_killed(self, sandbox: Sandbox) -> bool:
        """Whether the kernel's OOM killer ended the container: under gVisor a program over its
        memory limit takes the whole sandbox with it (gVisor's kernel holds all its memory)."""
        try:
            with engine_answers(f"cannot inspect {sandbox.short_id}"):
                return await asyncio.to_thread(died_of_oom, self._api, sandbox.container_id)
        except (docker.errors.DockerException, EngineUnavailable):
            return False

    async def destroy(self, sandbox: Sandbox) -> None:
        await sandbox.link.close()
        await self.remove(sandbox.container_id)

    async def freeze(self, sandbox: Sandbox, wait_s: float = FREEZE_WAIT_S) -> bool:
        """Freeze every process of a sandbox at once (``docker pause``: the cgroup freezer),
        so that it uses no CPU from then on, whatever it runs; waits at most ``wait_s`` (the
        call goes on in its thread). ``remove`` kills a frozen container as any other."""
        call = asyncio.to_thread(self._api.pause, sandbox.container_id)
        try:
            await asyncio.wait_for(call, wait_s)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            log.warning("cannot freeze %s: %s", sandbox.short_id, exc)
            return False
        except TimeoutError:
            log.warning("freezing %s took more than %s s", sandbox.short_id, wait_s)
            return False
        return True

    async def remove(self, container_id: str) -> None:
        try:
            await asyncio.to_thread(self._api.remove_container, container_id, force=True)
        except docker.errors.NotFound:
            pass  # gone already (a janitor removed it once it exited)
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                log.warning("cannot remove container %s: %s", container_id[:12], exc)
        except requests.RequestException as exc:  # the janitor removes it once it exited
            log.warning("cannot remove container %s: the Docker engine did not answer (%s)",
                        container_id[:12], exc)

    @property
    def instance(self) -> str:
        return self._instance

    async def remove_instance_leftovers(self) -> int:
        """Remove every container this runner instance created (used at shutdown)."""
        try:
            found = await asyncio.to_thread(
                self._api.containers,
                all=True,
                filters={"label": [f"{labels.INSTANCE}={self._instance}"]},
            )
        except requests.RequestException as exc:
            log.warning("cannot remove this runner's containers: the Docker engine did not "
                        "answer (%s); the janitor will", exc)
            return 0
        await asyncio.gather(*(self.remove(c["Id"]) for c in found))
        networks = await asyncio.to_thread(
            self._api.networks, filters={"label": [f"{labels.INSTANCE}={self._instance}"]})
        for network in networks:
            with contextlib.suppress(docker.errors.APIError):
                await asyncio.to_thread(self._api.remove_network, network["Id"])
        return len(found)

    def close(self) -> None:
        self._client.close()


class DockerSessions:
    """Session networks and session databases on one Docker engine."""

    def __init__(self, sandboxes: DockerSandboxes) -> None:
        self._api = sandboxes._api
        self._settings = sandboxes._settings
        self._instance = sandboxes.instance
        self.remove_container = sandboxes.remove

    def _labels(self, role: str, session: str) -> dict[str, str]:
        """No expiry label: a session lives as long as it is used; the runner removes it after
        the TTL, the janitor when its runner is gone or nothing is attached to its network."""
        return {
            labels.MANAGED: "1",
            labels.PLATFORM: self._settings.platform_id,
            labels.RUNNER: self._settings.runner_id,
            labels.INSTANCE: self._instance,
            labels.ROLE: role,
            labels.SESSION: session,
        }

    async def subnets_in_use(self) -> set[str]:
        """Subnets of every network on this engine (ours or not): a new one must not overlap."""
        with engine_answers("cannot list the networks"):
            networks = await asyncio.to_thread(self._api.networks)
        return {
            config["Subnet"]
            for network in networks
            for config in (network.get("IPAM") or {}).get("Config") or []
            if config.get("Subnet")
        }

    async def create_network(self, name: str, subnet: str, session: str) -> None:
        """An internal bridge: no route out; the host has no address on it, so sandboxes
        cannot reach services on the host either."""
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
        try:
            with engine_answers(f"cannot create network {name}"):
                await asyncio.to_thread(
                    self._api.create_network, name, driver="bridge", internal=True, ipam=ipam,
                    check_duplicate=True, labels=self._labels("session-network", session),
                    options={"com.docker.network.bridge.inhibit_ipv4": "true",
                             "com.docker.network.bridge.enable_icc": "true"},
                )
        except docker.errors.APIError as exc:
            raise SandboxError(f"cannot create network {name} ({subnet}): {exc}") from exc

    async def network_exists(self, name: str) -> bool:
        try:
            with engine_answers(f"cannot inspect network {name}"):
                await asyncio.to_thread(self._api.inspect_network, name)
        except docker.errors.NotFound:
            return False
        return True

    async def remove_network(self, name: str) -> bool:
        try:
            await asyncio.to_thread(self._api.remove_network, name)
        except docker.errors.NotFound:
            return True
        except (docker.errors.APIError, requests.RequestException) as exc:
            log.info("network %s not removed yet: %s", name, exc)
            return False
        return True

    async def start_database(self, runtime: Runtime, network: str, session: str,
                             password: str) -> str:
        """A MariaDB server for one session at host ``mysql`` on its network, hardened like a
        sandbox; its data lives in the container's /tmp and dies with it."""
        config = _hardened(runtime, self._settings, self._instance)
        config["labels"].pop(labels.EXPIRES)
        config["labels"].update(self._labels("database", session))
        config.update({
            "network_disabled": False, "hostname": "mysql", "stdin_open": False,
            "entrypoint": ["python3", "-I", "/opt/sql/sqlserver.py"],
            "environment": {**BASE_ENV, "MYSQL_PASSWORD": password},
        })
        config.pop("command", None)
        host = config.pop("host_config")
        host["network_mode"] = network
        if strongest(self._settings.default_isolation, runtime.isolation) == "gvisor":
            _under_gvisor(host, networked=True)
        host_config = self._api.create_host_config(**host)
        networking = endpoints(network, "mysql")
        try:
            created = await asyncio.to_thread(
                self._api.create_container, host_config=host_config,
                networking_config=networking, **config)
            await asyncio.to_thread(self._api.start, created["Id"])
            await self._wait_ready(created["Id"])
        except (docker.errors.DockerException, requests.RequestException, SandboxError) as exc:
            if "created" in locals():
                await self.remove_container(created["Id"])
            raise SandboxError(f"cannot start the session database: {exc}") from exc
        return str(created["Id"])

    async def database_kb(self, container_id: str) -> int | None:
        """The session database's data on disk (its /tmp), or None when it cannot be read."""
        try:
            run = await asyncio.to_thread(self._api.exec_create, container_id,
                                          ["du", "-sk", "/tmp/db"])
            out = await asyncio.to_thread(self._api.exec_start, run["Id"])
        except (docker.errors.DockerException, requests.RequestException):
            return None
        size = bytes(out).split(b"\t", 1)[0].strip()
        return int(size) if size.isdigit() else None

    async def is_running(self, container_id: str) -> bool:
        try:
            with engine_answers("cannot inspect the session database"):
                state = await asyncio.to_thread(self._api.inspect_container, container_id)
        except docker.errors.NotFound:
            return False
        return bool(state["State"]["Running"])

    async def _wait_ready(self, container_id: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            logs = cast(bytes, await asyncio.to_thread(
                self._api.logs, container_id, stdout=True, stderr=True, tail=20))
            if b"coderunner: database ready" in logs:
                return
            state = await asyncio.to_thread(self._api.inspect_container, container_id)
            if not state["State"]["Running"]:
                raise SandboxError(f"the database exited: {logs[-300:]!r}")
            await asyncio.sleep(0.1)
        raise SandboxError("the database did not start in time")


def died_of_oom(api: docker.APIClient, container_id: str) -> bool:
    """Whether the kernel's OOM killer ended this container (waits up to 10 s for it to end).

    Docker 20.10 reads the OOM kill at the container's exit, so an OOM event that reaches it
    after the exit is missing from ``State.OOMKilled`` (a gVisor memory bomb, one run in some
    hundreds here); its event log still has it, so a container a signal killed is looked up
    there too, for an event up to ``OOM_EVENT_WAIT_S`` after the exit (no wait once that is
    past)."""
    with contextlib.suppress(requests.RequestException):  # still running after 10 s
        api.wait(container_id, timeout=10)
    state = cast(dict[str, Any], api.inspect_container(container_id))["State"]
    if state.get("OOMKilled"):
        return True
    if state.get("Running") or state.get("ExitCode") != 128 + signal.SIGKILL:
        return False
    started = datetime.fromisoformat(state["StartedAt"]).timestamp()
    ended = datetime.fromisoformat(state["FinishedAt"]).timestamp()  # the wait counts from here
    events = api.events(since=int(started), until=int(ended + OOM_EVENT_WAIT_S) + 1,
                        filters={"container": container_id, "event": "oom"}, decode=True)
    try:
        return any(True for _ in events)
    finally:
        events.close()

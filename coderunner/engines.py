"""Extra Docker engines on this machine, each standing in for a separate host.

An engine ``Engine(name, index)`` is a dockerd of its own beside the main one, for fault tests
(restart it under load) and for several runner agents, one per engine (``socket_url`` is the
runner's and the janitor's ``DOCKER_HOST``). Everything it has is its own:

- a network namespace ``coderunner-<name>``: its own ``docker0`` (``10.231.<index>.1/24``), its
  own iptables, and no interface that leads out of it. Two dockerds in one namespace fight:
  each one flushes and deletes the ``DOCKER`` and ``DOCKER-ISOLATION-*`` chains when it starts
  (libnetwork's bridge driver), so ``--iptables=true`` would wipe the main engine's rules,
  while ``--iptables=false`` leaves an internal session network without Docker's isolation
  rules and, with ``br_netfilter`` on and ``FORWARD`` dropping, its sandboxes unable to reach
  each other. In a namespace of its own, Docker keeps its usual rules and the sandboxes keep
  their usual isolation: network ``none``, or an internal bridge without a host address;
  ``FORWARD`` is set to drop there before dockerd starts;
- a data root ``/var/lib/coderunner/engines/<name>`` (loaded images stay between runs), its
  daemon configuration ``<name>.json`` beside it (never ``/etc/docker/daemon.json``) and its log
  ``<name>.log``;
- an exec root, a socket and a pidfile under ``/run/coderunner/engines/``, a containerd of its
  own (started by dockerd), containerd namespaces and the cgroup parent ``/coderunner-<name>``;
- live-restore off: a dockerd restart stops its containers, as on a default installation.

``start``, ``stop`` and ``restart`` work from any process (the pidfile says which dockerd is
the engine's); ``teardown`` also removes the namespace, mounts and cgroups, and with ``purge``
the data. ``reserved`` hands out engines no other process on the machine is using (tests of two
people at once), ``running_engines`` starts them with images loaded and tears them down.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from contracts.runtimes import Catalog

log = logging.getLogger(__name__)

STATE_DIR = Path("/var/lib/coderunner/engines")
RUN_DIR = Path("/run/coderunner/engines")
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
MAIN_DOCKER_HOST = "unix:///var/run/docker.sock"
TOOLS = ("dockerd", "nsenter", "ip", "iptables", "umount")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
_LOG_LIMIT = 5 * 1024 * 1024


class EngineError(RuntimeError):
    """An extra Docker engine could not be started, stopped, loaded or removed."""


@dataclass
class Engine:
    """One extra dockerd: ``name`` names its files, ``index`` (1-254) its bridge subnet."""

    name: str
    index: int
    state_dir: Path = STATE_DIR
    run_dir: Path = RUN_DIR
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise EngineError(f"an engine name is 1-20 of a-z, 0-9 and -, got {self.name!r}")
        if not 1 <= self.index <= 254:
            raise EngineError(f"an engine index is 1-254, got {self.index}")

    @classmethod
    def existing(cls, name: str, state_dir: Path = STATE_DIR, run_dir: Path = RUN_DIR) -> Engine:
        """The engine ``name`` as it was last configured (its index is read back)."""
        try:
            config = json.loads((state_dir / f"{name}.json").read_text())
            index = int(str(config["bip"]).split(".")[2])
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise EngineError(f"no engine {name!r} was set up in {state_dir}: {exc}") from None
        return cls(name, index, state_dir, run_dir)

    @property
    def data_root(self) -> Path:
        return self.state_dir / self.name

    @property
    def config_path(self) -> Path:
        return self.state_dir / f"{self.name}.json"

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @property
    def exec_root(self) -> Path:
        return self.run_dir / self.name

    @property
    def socket_path(self) -> Path:
        return self.run_dir / f"{self.name}.sock"

    @property
    def socket_url(self) -> str:
        """What a runner or janitor on this engine takes as ``DOCKER_HOST``."""
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def netns(self) -> str:
        return f"coderunner-{self.name}"

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns

    @property
    def cgroup_parent(self) -> str:
        return f"/coderunner-{self.name}"

    @property
    def bridge_ip(self) -> str:
        return f"10.231.{self.index}.1/24"

    def config(self) -> dict[str, Any]:
        """The daemon configuration: dockerd runs as ``dockerd --config-file <this>``."""
        return {
            "hosts": [self.socket_url],
            "data-root": str(self.data_root),
            "exec-root": str(self.exec_root),
            "pidfile": str(self.pidfile),
            "bip": self.bridge_ip,
            "iptables": True,
            "ip-masq": False,
            "live-restore": False,
            "cgroup-parent": self.cgroup_parent,
            "storage-driver": "overlay2",
            "containerd-namespace": self.netns,
            "containerd-plugins-namespace": f"{self.netns}-plugins",
            "log-level": "warn",
        }

    # --- state -----------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The engine's live dockerd, if any."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and str(self.config_path) in _cmdline(pid) else None

    def answers(self) -> bool:
        """Whether the engine's API answers a ping."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket_path))
                sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.split(b"\r\n", 1)[0].split()[1:2] == [b"200"]

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.socket_url, timeout=timeout)

    # --- life cycle ------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> float:
        """Start dockerd (or find it running) and wait until it answers; returns seconds."""
        started = time.monotonic()
        _check_host()
        if self.pid() is None:
            self._kill_strays()
            self._prepare()
            self._spawn()
        deadline = started + timeout_s
        while not self.answers():
            if self._process is not None and self._process.poll() is not None:
                raise EngineError(f"dockerd of {self.name} exited with code "
                                  f"{self._process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise EngineError(f"dockerd of {self.name} did not answer within {timeout_s} s:"
                                  f"\n{self.log_tail()}")
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self, timeout_s: float = 60.0) -> float:
        """SIGTERM dockerd and wait until it is gone (it stops its containers first, killing
        those that ignore SIGTERM after 10 s); SIGKILL after ``timeout_s``. Returns seconds."""
        started = time.monotonic()
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout_s):
                log.warning("dockerd of %s still runs after %s s: killing it", self.name, timeout_s)
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 10)
        self._process = None
        return time.monotonic() - started

    def restart(self, timeout_s: float = 60.0) -> float:
        """Stop dockerd and start it again with the same configuration; returns the seconds
        the API did not answer."""
        return self.stop(timeout_s) + self.start(timeout_s)

    def clear(self) -> bool:
        """Remove every container and network on the engine (its images stay); False when
        Docker could not remove one (a root filesystem left mounted by a dockerd that stopped
        while starting the container: ``teardown`` unmounts it, a later ``clear`` removes it)."""
        cleared = True
        client = self.client()
        try:
            for container in client.api.containers(all=True):
                try:
                    client.api.remove_container(container["Id"], force=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError as exc:
                    log.warning("engine %s: %s", self.name, exc)
                    cleared = False
            for network in client.api.networks():
                if network["Name"] not in ("bridge", "host", "none"):
                    with contextlib.suppress(docker.errors.NotFound):
                        client.api.remove_network(network["Id"])
        finally:
            client.close()
        return cleared

    def teardown(self, purge: bool = False) -> None:
        """Stop the engine and remove its containers, networks, namespace, mounts, cgroups and
        run files; ``purge`` also deletes its data (images included), configuration and log."""
        if self.answers():
            try:
                self.clear()
            except Exception as exc:  # the engine going down meanwhile: the rest goes anyway
                log.warning("engine %s: clearing failed: %s", self.name, exc)
        self.stop()
        self._kill_strays()
        for mount_point in _mounts_under(self.data_root, self.exec_root):
            subprocess.run(["umount", "-l", mount_point], check=False, capture_output=True)
        if self.netns_path.exists():
            _run(["ip", "netns", "delete", self.netns])
        _remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        for path in (self.socket_path, self.pidfile):
            path.unlink(missing_ok=True)
        if purge:
            shutil.rmtree(self.data_root, ignore_errors=True)
            for path in (self.config_path, self.log_path):
                path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _prepare(self) -> None:
        for directory in (self.state_dir, self.data_root, self.run_dir, self.exec_root):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")
        self.socket_path.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)  # a stale one naming a reused pid stops dockerd
        if not self.netns_path.exists():
            _run(["ip", "netns", "add", self.netns])
        _run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        _run(["nsenter", f"--net={self.netns_path}", "--", "iptables", "-P", "FORWARD", "DROP"])

    def _spawn(self) -> None:
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_LIMIT:
            self.log_path.unlink()
        with self.log_path.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start ---\n".encode())
            out.flush()
            # nsenter execs dockerd: the child's pid is dockerd's.
            self._process = subprocess.Popen(
                ["nsenter", f"--net={self.netns_path}", "--",
                 "dockerd", "--config-file", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout_s)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout_s
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _kill_strays(self) -> None:
        """A containerd or shims of this engine that outlived its dockerd (named by the exec
        root in their command line, which no other engine's processes share)."""
        marker = f"{self.exec_root}/"
        strays = [pid for pid in _pids() if marker in _cmdline(pid)]
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in strays:
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    # --- images ----------------------------------------------------------------------------

    def load_images(self, tags: Sequence[str], source: str = MAIN_DOCKER_HOST) -> list[str]:
        """Copy images from the ``source`` engine (``docker save`` piped into ``docker load``,
        in one stream so that shared layers go once), only those whose id differs here or
        that are missing; returns the tags copied."""
        src = docker.DockerClient(base_url=source, timeout=600)
        dst = self.client(timeout=600)
        try:
            wanted = {tag: _image_id(src, tag) for tag in tags}
            for tag, image_id in wanted.items():
                if image_id is None:
                    raise EngineError(f"{tag} is not on {source}: run `coderunner images build`")
            missing = [tag for tag, image_id in wanted.items() if _image_id(dst, tag) != image_id]
            if missing:
                _copy_images(src, dst, missing)
            for tag in missing:
                if _image_id(dst, tag) != wanted[tag]:
                    raise EngineError(f"{tag} did not arrive in engine {self.name}")
            return missing
        finally:
            src.close()
            dst.close()


def image_tags(catalog: Catalog, languages: Sequence[str]) -> list[str]:
    """The runtime images (``coderunner/<image>:latest``) that serve ``languages``."""
    tags = []
    for language in languages:
        runtime = catalog.get(language)
        if runtime is None:
            raise EngineError(f"unknown language {language!r}")
        tag = f"{runtime.image_tag}:latest"
        if tag not in tags:
            tags.append(tag)
    return tags


@contextlib.contextmanager
def reserved(count: int = 1, prefix: str = "test", first_index: int = 200, slots: int = 16,
             state_dir: Path = STATE_DIR, run_dir: Path = RUN_DIR) -> Iterator[list[Engine]]:
    """``count`` engines (``<prefix>-1``, ``<prefix>-2``, …) that no other process on this
    machine holds, each locked (``flock``) until the block ends. Each slot keeps its data root,
    so its images are loaded once. Starting and stopping them is the caller's."""
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    held: list[tuple[Engine, int]] = []
    try:
        for slot in range(1, slots + 1):
            if len(held) == count:
                break
            fd = os.open(run_dir / f"{prefix}-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((Engine(f"{prefix}-{slot}", first_index + slot, state_dir, run_dir), fd))
        if len(held) < count:
            raise EngineError(f"only {len(held)} of {slots} {prefix} engines are free")
        yield [engine for engine, _ in held]
    finally:
        for _, fd in held:
            os.close(fd)


@contextlib.contextmanager
def running_engines(count: int, images: Sequence[str], prefix: str = "test"
                    ) -> Iterator[list[Engine]]:
    """``count`` reserved engines, started, with ``images`` loaded; torn down at the end
    (their data roots, and so their images, are kept)."""
    with reserved(count, prefix) as engines:
        try:
            for engine in engines:
                engine.teardown()  # whatever a crashed run of the same slot left
                engine.start()
                engine.clear()  # containers the last teardown could not remove
                engine.load_images(images)
            yield engines
        finally:
            for engine in engines:
                engine.teardown()


def default_index(name: str) -> int:
    """An index for an engine set up without one: its old one, else one from its name."""
    with contextlib.suppress(EngineError):
        return Engine.existing(name).index
    return 1 + zlib.crc32(name.encode()) % 199


def _copy_images(src: docker.DockerClient, dst: docker.DockerClient, tags: list[str]) -> None:
    api, target = src.api, dst.api
    url = f"{api.base_url}/v{api.api_version}/images/get"
    with api.get(url, params={"names": tags}, stream=True, timeout=600) as response:
        response.raise_for_status()
        load = target.post(f"{target.base_url}/v{target.api_version}/images/load",
                           data=response.iter_content(1 << 20), stream=True, timeout=600)
        load.raise_for_status()
        for line in load.iter_lines():
            message = json.loads(line) if line.strip() else {}
            if "error" in message:
                raise EngineError(f"loading {', '.join(tags)} failed: {message['error']}")


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def _check_host() -> None:
    if os.geteuid() != 0:
        raise EngineError("extra Docker engines need root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise EngineError(f"missing {', '.join(missing)}: run infra/setup/ensure-docker.sh")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise EngineError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running and not a zombie (a dead child not yet waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _mounts_under(*roots: Path) -> list[str]:
    """Mount points at or under ``roots``, deepest first."""
    found = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].encode().decode("unicode_escape")
            if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def _remove_cgroups(parent: str) -> None:
    """The engine's cgroup parent in every hierarchy (v1) or the unified one (v2), once empty."""
    relative = parent.strip("/")
    candidates = [CGROUP_ROOT / relative]
    if CGROUP_ROOT.is_dir():
        candidates += [hierarchy / relative for hierarchy in CGROUP_ROOT.iterdir()]
    for top in candidates:
        if not top.is_dir():
            continue
        below = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for directory in [*below, top]:
            with contextlib.suppress(OSError):
                directory.rmdir()

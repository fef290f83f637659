"""Settings: one frozen struct per component, built once from the environment at start-up.

Only entry points call ``from_env``; everything below receives the struct explicitly.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct

from contracts.messages import Isolation
from contracts.nats_options import DEFAULT_NATS_URL as DEFAULT_NATS_URL
from contracts.nats_options import NatsOptions, NatsOptionsError
from contracts.nats_options import nats_servers as nats_servers

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNTIMES_DIR = REPO_ROOT / "infra" / "runtimes"


class SettingsError(ValueError):
    """A setting in the environment has an invalid value."""


def nats_options(env: Mapping[str, str]) -> NatsOptions:
    """Every component's NATS credentials and TLS (contracts/nats_options.py)."""
    try:
        return NatsOptions.from_env(env)
    except NatsOptionsError as exc:
        raise SettingsError(str(exc)) from None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    """An integer, or None when unset (or empty): the component then decides."""
    if not env.get(name):
        return None
    return _int(env, name, minimum, minimum)


def _percent(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default, 1)
    if value > 100:
        raise SettingsError(f"{name} is a percentage from 1 to 100, got {value}")
    return value


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


class ApiKey(Struct, frozen=True):
    """One API key: its name (the owner of its executions) and its secret."""

    name: str
    secret: str
    admin: bool = False
    isolation: Isolation = "runc"
    """The least isolation of this key's sandboxes (``gvisor`` for keys named in GVISOR_KEYS)."""


def _isolation(env: Mapping[str, str], name: str) -> Isolation:
    raw = env.get(name, "").strip().lower() or "runc"
    if raw not in ("runc", "gvisor"):
        raise SettingsError(f"{name} must be runc or gvisor, got {raw!r}")
    return "gvisor" if raw == "gvisor" else "runc"


def parse_api_keys(entries: list[str], admins: tuple[str, ...],
                   gvisor: tuple[str, ...] = ()) -> tuple[ApiKey, ...]:
    """``name:secret`` entries; names must be unique and secrets at least 16 characters. Keys
    named in ``admins`` are admins, those in ``gvisor`` run their code under gVisor."""
    keys: list[ApiKey] = []
    for entry in entries:
        name, sep, secret = entry.strip().partition(":")
        if not sep or not name or not secret:
            raise SettingsError(f"an API key must be written name:secret, got {entry!r}")
        if len(secret) < 16:
            raise SettingsError(f"the secret of API key {name!r} is shorter than 16 characters")
        if any(k.name == name for k in keys):
            raise SettingsError(f"API key name {name!r} appears twice")
        keys.append(ApiKey(name, secret, name in admins,
                           "gvisor" if name in gvisor else "runc"))
    unknown = set(gvisor) - {k.name for k in keys}
    if unknown:
        raise SettingsError(f"GVISOR_KEYS names no API key: {', '.join(sorted(unknown))}")
    return tuple(keys)


def _api_keys(env: Mapping[str, str]) -> tuple[ApiKey, ...]:
    entries = list(_list(env, "API_KEYS"))
    path = env.get("API_KEYS_FILE")
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SettingsError(f"API_KEYS_FILE {path!r} cannot be read: {exc}") from None
        entries += [line.strip() for line in text.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    return parse_api_keys(entries, _list(env, "ADMIN_KEYS"), _list(env, "GVISOR_KEYS"))


DEFAULT_PROBLEMS_MAX_BYTES = 4 * 1024**3
"""4 GiB of stored problems' tests (NATS file storage; each test's input and answer once)."""


class EdgeSettings(Struct, frozen=True):
    nats_url: str = DEFAULT_NATS_URL
    nats: NatsOptions = NatsOptions()
    """Credentials and TLS for NATS (NATS_CREDS, NATS_USER, NATS_TLS_CA, …)."""
    host: str = "127.0.0.1"
    port: int = 8000
    runtimes_dir: str = str(DEFAULT_RUNTIMES_DIR)
    web_dir: str = str(REPO_ROOT / "web")
    allowed_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) whose pages may open /ws, besides the edge's own."""
    api_keys: tuple[ApiKey, ...] = ()
    """Without keys the edge serves loopback only and every caller is the local user."""
    rate_per_minute: int = 600
    key_max_concurrent: int = 20
    session_max_unfinished: int = 16
    """Unfinished runs one browser session may have on an edge (sockets have no API key)."""
    address_max_unfinished: int = 64
    """Unfinished socket runs of all sessions from one client address, on an edge."""
    webhook_secret: str = ""
    """Signs callbacks; empty means a random one per process (callbacks cannot be verified)."""
    session_secret: str = ""
    """Signs session tokens; empty means a random one per process."""
    callback_allow_private: bool = True
    callback_allow_link_local: bool = False
    webhook_max_attempts: int = 10
    webhook_timeout_s: int = 10
    wait_max_s: int = 60
    judge0_prefix: str = "/judge0"
    """Where the Judge0 CE compatible API is mounted (docs/compat.md); empty: not served."""
    problems_max_bytes: int = DEFAULT_PROBLEMS_MAX_BYTES
    """The stored problems' object store's size (``PROBLEMS_MAX_BYTES``), set when an edge
    creates it: a problem that does not fit is refused (507)."""
    places_on_seats: bool = True
    """``EDGE_PLACES_ON_SEATS``: put plain jobs straight on free seats while no job waits
    (``edge/seat_placement.py``); false: every job goes through the queue."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> EdgeSettings:
        keys = _api_keys(env)
        return cls(
            nats_url=_str(env, "NATS_URL", DEFAULT_NATS_URL),
            nats=nats_options(env),
            host=_str(env, "EDGE_HOST", "127.0.0.1"),
            port=_int(env, "EDGE_PORT", 8000),
            runtimes_dir=_str(env, "RUNTIMES_DIR", str(DEFAULT_RUNTIMES_DIR)),
            web_dir=_str(env, "WEB_DIR", str(REPO_ROOT / "web")),
            allowed_origins=tuple(origin.rstrip("/") for origin in _list(env, "ALLOWED_ORIGINS")),
            api_keys=keys,
            rate_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", 600, 1),
            key_max_concurrent=_int(env, "KEY_MAX_CONCURRENT", 20, 1),
            session_max_unfinished=_int(env, "SESSION_MAX_UNFINISHED", 16, 1),
            address_max_unfinished=_int(env, "ADDRESS_MAX_UNFINISHED", 64, 1),
            webhook_secret=env.get("WEBHOOK_SECRET", ""),
            session_secret=env.get("SESSION_SECRET", ""),
            # A platform open to the network must not POST into its own private network.
            callback_allow_private=_bool(env, "CALLBACK_ALLOW_PRIVATE", not keys),
            callback_allow_link_local=_bool(env, "CALLBACK_ALLOW_LINK_LOCAL", False),
            webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", 10, 1),
            webhook_timeout_s=_int(env, "WEBHOOK_TIMEOUT", 10, 1),
            wait_max_s=_int(env, "WAIT_MAX", 60, 1),
            judge0_prefix=env.get("JUDGE0_PREFIX", "/judge0").rstrip("/"),
            problems_max_bytes=_int(env, "PROBLEMS_MAX_BYTES", DEFAULT_PROBLEMS_MAX_BYTES,
                                    1_048_576),
            places_on_seats=_bool(env, "EDGE_PLACES_ON_SEATS", True),
        )


class DispatcherSettings(Struct, frozen=True):
    nats_url: str = DEFAULT_NATS_URL
    nats: NatsOptions = NatsOptions()
    """Credentials and TLS for NATS (NATS_CREDS, NATS_USER, NATS_TLS_CA, …)."""
    max_concurrent: int | None = None
    """The global cap on running jobs; None: the sum of the live runners' slots
    (``RUNNER_MAX_JOBS`` each), followed as runners come and go."""
    queue_capacity: int | None = None
    """Jobs the queue accepts before refusing more; None: ``QUEUE_PER_SLOT`` per runner slot,
    at least ``DEFAULT_QUEUE_CAPACITY``, grown (never shrunk) as runners join."""
    queue_timeout_s: int = 60
    max_deliver: int = 3
    run_ack_wait_s: int = 30
    owner_max_share: int = 50
    """Percent of ``max_concurrent`` one owner may hold while another owner's job waits."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DispatcherSettings:
        return cls(
            nats_url=_str(env, "NATS_URL", DEFAULT_NATS_URL),
            nats=nats_options(env),
            max_concurrent=_optional_int(env, "MAX_CONCURRENT_SESSIONS", 1),
            queue_capacity=_optional_int(env, "QUEUE_CAPACITY", 1),
            queue_timeout_s=_int(env, "QUEUE_TIMEOUT", 60, 1),
            max_deliver=_int(env, "MAX_DELIVER", 3, 1),
            run_ack_wait_s=_int(env, "RUN_ACK_WAIT", 30, 2),
            owner_max_share=_percent(env, "OWNER_MAX_SHARE", 50),
        )


def _subnets(env: Mapping[str, str]) -> str:
    raw = _str(env, "SESSION_SUBNETS", "172.25.0.0/16")
    try:
        network = ipaddress.ip_network(raw)
    except ValueError as exc:
        raise SettingsError(f"SESSION_SUBNETS must be a network like 172.25.0.0/16: {exc}"
                            ) from None
    if network.version != 4 or network.prefixlen > 24:
        raise SettingsError(f"SESSION_SUBNETS must be an IPv4 range of /24 or wider, got {raw}")
    return raw


class RunnerSettings(Struct, frozen=True):
    nats_url: str = DEFAULT_NATS_URL
    nats: NatsOptions = NatsOptions()
    """Credentials and TLS for NATS (NATS_CREDS, NATS_USER, NATS_TLS_CA, …)."""
    runner_id: str = "runner"
    platform_id: str = "default"
    docker_host: str | None = None
    runtimes_dir: str = str(DEFAULT_RUNTIMES_DIR)
    pool_size: int = 2
    pool_creations_at_once: int = 3
    """Warm-pool creations under way at once across all of this runner's pools (a job's own
    creation, when it finds no warm sandbox, takes no turn)."""
    max_jobs: int = 50
    container_ttl_s: int = 60
    output_cap_kb: int = 1024
    max_wall_ms: int = 300_000
    max_memory_mb: int = 1024
    max_processes: int = 256
    agent_timeout_s: int = 5
    session_subnets: str = "172.25.0.0/16"
    """Session networks take /24 subnets from this range (172.25.{n}.0/24)."""
    kernel_ttl_s: int = 600
    """A notebook's kernel (and its state) is removed after this long without a cell."""
    kernel_memory_mb: int = 512
    kernel_spares: int = 1
    """Python kernels kept started (libraries for plots loaded) for the next notebook."""
    lsp_idle_s: int = 300
    """A language server whose browser sent nothing for this long is stopped
    (docs/language-servers.md)."""
    lsp_max_lifetime_s: int = 3600
    """A language server is stopped this long after it started, used or not (the browser's
    next ``initialize`` starts a fresh one)."""
    default_isolation: Isolation = "runc"
    """The least isolation of every sandbox of this runner (a job, its key or its language may
    ask for more); its warm pools hold sandboxes of this isolation."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RunnerSettings:
        return cls(
            nats_url=_str(env, "NATS_URL", DEFAULT_NATS_URL),
            nats=nats_options(env),
            runner_id=_str(env, "RUNNER_ID", socket.gethostname()),
            platform_id=_str(env, "PLATFORM_ID", "default"),
            docker_host=env.get("DOCKER_HOST") or None,
            runtimes_dir=_str(env, "RUNTIMES_DIR", str(DEFAULT_RUNTIMES_DIR)),
            pool_size=_int(env, "POOL_SIZE", 2),
            pool_creations_at_once=_int(env, "POOL_CREATIONS_AT_ONCE", 3, 1),
            max_jobs=_int(env, "RUNNER_MAX_JOBS", 50, 1),
            container_ttl_s=_int(env, "CONTAINER_TTL", 60, 1),
            output_cap_kb=_int(env, "OUTPUT_CAP_KB", 1024, 1),
            max_wall_ms=_int(env, "MAX_WALL_MS", 300_000, 100),
            max_memory_mb=_int(env, "MAX_MEMORY_MB", 1024, 16),
            max_processes=_int(env, "MAX_PROCESSES", 256, 1),
            agent_timeout_s=_int(env, "AGENT_TIMEOUT", 5, 1),
            session_subnets=_subnets(env),
            kernel_ttl_s=_int(env, "KERNEL_TTL", 600, 1),
            kernel_memory_mb=_int(env, "KERNEL_MEMORY_MB", 512, 64),
            kernel_spares=_int(env, "KERNEL_SPARES", 1),
            lsp_idle_s=_int(env, "LSP_IDLE_S", 300, 1),
            lsp_max_lifetime_s=_int(env, "LSP_MAX_LIFETIME_S", 3600, 1),
            default_isolation=_isolation(env, "DEFAULT_ISOLATION"),
        )


class JanitorSettings(Struct, frozen=True):
    docker_host: str | None = None
    interval_s: int = 15
    nats_url: str = DEFAULT_NATS_URL
    nats: NatsOptions = NatsOptions()
    """Credentials and TLS for NATS (NATS_CREDS, NATS_USER, NATS_TLS_CA, …)."""
    """To learn which runners are alive (their heartbeats); without NATS, none is judged gone."""
    platform_id: str = "default"
    """Orphans are judged only among this platform's containers and networks."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> JanitorSettings:
        return cls(
            platform_id=_str(env, "PLATFORM_ID", "default"),
            nats_url=_str(env, "NATS_URL", DEFAULT_NATS_URL),
            nats=nats_options(env),
            docker_host=env.get("DOCKER_HOST") or None,
            interval_s=_int(env, "JANITOR_INTERVAL", 15, 1),
        )

"""Packages on demand (docs/packages.md): the runner's package settings and the names by which
the runner and the janitor recognise a package layer (a Docker volume)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from msgspec import Struct

from contracts.settings import _int

LAYER_PREFIX = "coderunner-packages-"
"""A layer's volume name: this, then the first 32 hex digits of its key."""
LAYER_ROLE = "packages"
"""The ``coderunner.role`` label of a layer volume."""
LAYER_KEY = "coderunner.packages.key"
"""On a layer volume: the SHA-256 of its resolved set (docs/packages.md, Hash)."""
LAYER_BYTES = "coderunner.packages.bytes"
"""On a layer volume: the size of its files, counted before they were written."""
LAYER_MOUNT = "/opt/packages"
"""Where a Python layer is mounted read-only in a run's sandbox (on ``PYTHONPATH``)."""
NODE_MODULES_MOUNT = "/node_modules"
"""Where an npm layer (a ``node_modules`` tree) is mounted read-only: Node looks for packages in
the ``node_modules`` of every directory above the importing file, so ``require`` and ``import``
(ESM, which ignores ``NODE_PATH``) both find them from /workspace."""
LAYER_USER = "coderunner.packages.layer"
"""On a sandbox container: the volume name of the layer mounted in it (the janitor's sign that
the layer is in use)."""
FETCH_ENV_PREFIXES = ("PIP_", "NPM_CONFIG_", "npm_config_")
FETCH_ENV_NAMES = ("HOME", "PATH", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                   "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                   "NODE_EXTRA_CA_CERTS", "XDG_CONFIG_HOME", "PIP_CONFIG_FILE")


class PackageSettings(Struct, frozen=True):
    """Limits of one package set, and the environment the fetcher passes to pip and npm (their
    own registry configuration, nothing else of the runner's)."""

    max_count: int = 50
    max_download_mb: int = 32
    max_layer_mb: int = 128
    fetch_timeout_s: int = 120
    install_timeout_s: int = 120
    fetch_env: dict[str, str] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PackageSettings:
        return cls(
            max_count=_int(env, "PACKAGES_MAX_COUNT", 50, 1),
            max_download_mb=_int(env, "PACKAGES_MAX_DOWNLOAD_MB", 32, 1),
            max_layer_mb=_int(env, "PACKAGES_MAX_LAYER_MB", 128, 1),
            fetch_timeout_s=_int(env, "PACKAGES_FETCH_TIMEOUT_S", 120, 1),
            install_timeout_s=_int(env, "PACKAGES_INSTALL_TIMEOUT_S", 120, 1),
            fetch_env={name: value for name, value in env.items()
                       if name.startswith(FETCH_ENV_PREFIXES) or name in FETCH_ENV_NAMES},
        )


def layer_ttl_s(env: Mapping[str, str] = os.environ) -> int:
    """The janitor's ``PACKAGES_LAYER_TTL_S``: a layer unused this long is removed."""
    return _int(env, "PACKAGES_LAYER_TTL_S", 7 * 24 * 3600, 0)

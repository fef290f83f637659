"""Docker labels: how the runner, the janitor and the image builder recognise what is ours.

Nothing without ``MANAGED`` = "1" is ever touched by the platform.
"""

from __future__ import annotations

MANAGED = "coderunner.managed"
"""On every sandbox container: "1"."""
PLATFORM = "coderunner.platform"
"""The platform (``PLATFORM_ID``: one NATS installation) whose runner made it: a janitor judges
orphans only among its own platform's, since it sees only that platform's heartbeats."""
RUNNER = "coderunner.runner"
"""The runner id (``RUNNER_ID``) that created a container."""
INSTANCE = "coderunner.instance"
"""The runner process that created a container (it removes them all when it stops)."""
LANGUAGE = "coderunner.language"
ROLE = "coderunner.role"
"""``sandbox``, ``database`` (a session's MariaDB) or ``session-network``."""
SESSION = "coderunner.session"
"""On a session's network, database and networked sandboxes: a hash of the owner."""
EXPIRES = "coderunner.expires"
"""Unix time after which the janitor removes the container, whatever its runner thinks."""
INPUTS = "coderunner.inputs"
"""On images: a hash of what they were built from; a different hash means rebuild."""
VERSION = "coderunner.version."
"""On images, followed by a language name: that language's version, read at build time."""

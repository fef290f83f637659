"""What every agent module shares: the sandbox's paths, tuning constants, and ``emit``."""

from __future__ import annotations

import json
import os

WORKSPACE = "/workspace"
SCRATCH = "/tmp"
FLUSH_BYTES = 16384
FLUSH_SECONDS = 0.005
READ_BYTES = 65536
DRAIN_SECONDS = 0.2
ZYGOTE_WAIT_S = 2.0


def emit(event: dict) -> None:
    data = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]

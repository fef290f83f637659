"""Entry point of the edge: settings, the app, uvicorn until signalled."""

from __future__ import annotations

import logging

import msgspec
import uvicorn

from contracts.runtimes import load_catalog
from contracts.settings import EdgeSettings
from edge.app import create_app

log = logging.getLogger("edge")


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main() -> None:
    settings = EdgeSettings.from_env()
    if not settings.api_keys:
        if settings.host not in LOOPBACK:
            log.warning("EDGE_HOST=%s ignored: without API keys the edge serves loopback only",
                        settings.host)
            settings = msgspec.structs.replace(settings, host="127.0.0.1")
        log.warning("no API keys configured (API_KEYS, API_KEYS_FILE): serving only on "
                    "loopback, http://%s:%d, every caller is the local admin",
                    settings.host, settings.port)
    if not settings.webhook_secret:
        log.warning("WEBHOOK_SECRET is not set: callbacks are signed with a random secret "
                    "that receivers cannot know")
    app = create_app(settings, load_catalog(settings.runtimes_dir))
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning",
        ws_max_size=8 * 1024 * 1024, ws_ping_interval=20, ws_ping_timeout=20,
    )

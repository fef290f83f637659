"""Entry point of the edge: settings, the app, uvicorn until signalled."""

from __future__ import annotations

import logging

import uvicorn

from contracts.runtimes import load_catalog
from contracts.settings import EdgeSettings
from edge.app import create_app

log = logging.getLogger("edge")


def main() -> None:
    settings = EdgeSettings.from_env()
    app = create_app(settings, load_catalog(settings.runtimes_dir))
    uvicorn.run(
        app, host=settings.host, port=settings.port, log_level="warning",
        ws_max_size=8 * 1024 * 1024, ws_ping_interval=20, ws_ping_timeout=20,
    )

"""The idle-sockets bench's helpers: the edge's socket gauge, and the open-files limit."""

from __future__ import annotations

import resource

from coderunner.idle_sockets import gauge, raise_open_files


def test_gauge_reads_the_open_socket_count() -> None:
    text = ("# HELP coderunner_websocket_connections Open browser sockets\n"
            "# TYPE coderunner_websocket_connections gauge\n"
            "coderunner_websocket_connections 1000.0\n"
            "coderunner_websocket_connections_other 3.0\n")
    assert gauge(text) == 1000
    assert gauge("coderunner_runners 1.0\n") is None


def test_raising_open_files_never_lowers_the_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files(16) == soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft

"""Whether a program from the browser needs its session's network: it serves or opens sockets
(a server in one console tab, a client in another) or talks to the session's MySQL.

A guess from the source, on purpose generous: a false "yes" costs a fresh container on the
session's private network (no route out either way); a false "no" leaves the program without
one, and the ``network`` field of ``execute_code`` overrides the guess."""

from __future__ import annotations

import re

from contracts.messages import SourceFile

NETWORK_WORDS = re.compile(
    r"""(?i:mysql)|jdbc:|\bsocket\b|socketserver|http\.server|asyncio\.(open_connection|start_server)
    |java\.net|\bServerSocket\b|require\(\s*['"](node:)?(net|http|https|dgram)['"]\s*\)
    |from\s+['"](node:)?(net|http)['"]|"net(/http)?"|sys/socket\.h|netinet/|std::net
    |TcpListener|TcpStream|TCPServer|TCPSocket|socket_create|fsockopen|IO::Socket|\bnc\s|/dev/tcp/
    |urllib|requests\.|fetch\(""",
    re.VERBOSE,
)


def needs_network(language: str, files: list[SourceFile]) -> bool:
    if language == "sql":
        return True
    return any(NETWORK_WORDS.search(f.content) for f in files)

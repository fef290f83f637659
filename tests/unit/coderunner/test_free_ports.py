"""Ports for test and bench servers (``coderunner.nats_server.free_ports``): all different, each
free when chosen, even from a kernel that hands out the lowest free port (ports chosen one after
another, each released before the next, would then all be the same)."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import ClassVar

import pytest

from coderunner.nats_server import free_ports


class LowestFree:
    """A socket whose ``bind(port 0)`` takes the lowest port no open one holds."""

    held: ClassVar[set[int]] = set()

    def __init__(self) -> None:
        self.port = 0

    def bind(self, address: tuple[str, int]) -> None:
        self.port = min(p for p in range(40000, 40100) if p not in LowestFree.held)
        LowestFree.held.add(self.port)

    def getsockname(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def __enter__(self) -> LowestFree:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        LowestFree.held.discard(self.port)


def test_ports_chosen_together_are_all_different_and_free() -> None:
    ports = free_ports(50)
    assert len(set(ports)) == 50
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_each_port_stays_held_until_all_are_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", LowestFree)
    assert free_ports(3) == [40000, 40001, 40002]
    assert LowestFree.held == set()

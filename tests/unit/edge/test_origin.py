from __future__ import annotations

import pytest

from edge.app import origin_allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.1:8000/", True),
        ("https://ide.example.org", True),
        ("http://evil.example", False),
        ("http://127.0.0.1:8001", False),
        ("null", False),
    ],
)
def test_only_our_own_and_configured_origins_may_open_the_socket(
    origin: str | None, allowed: bool
) -> None:
    assert origin_allowed(origin, "127.0.0.1:8000", ("https://ide.example.org",)) is allowed

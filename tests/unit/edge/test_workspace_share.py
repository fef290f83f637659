"""Share links: a link opens its revision until it expires; any change to it is refused."""

from __future__ import annotations

from edge.workspace_share import SharedRevision, ShareLinks

SHARED = SharedRevision("0" * 32, "project", 3, expires=1_000)


def test_a_link_opens_its_revision_until_it_expires() -> None:
    links = ShareLinks("secret-0123456789")
    token = links.sign(SHARED)
    assert links.verify(token, now=999.0) == SHARED
    assert links.verify(token, now=1_000.5) is None


def test_a_changed_link_or_another_secret_is_refused() -> None:
    token = ShareLinks("secret-0123456789").sign(SHARED)
    other = ShareLinks("secret-0123456789").sign(SharedRevision("0" * 32, "project", 4, 1_000))
    payload, _, mac = token.partition(".")
    assert ShareLinks("another-secret-0123").verify(token, 0) is None
    assert ShareLinks("secret-0123456789").verify(f"{other.partition('.')[0]}.{mac}", 0) is None
    assert ShareLinks("secret-0123456789").verify(payload, 0) is None
    assert ShareLinks("secret-0123456789").verify("", 0) is None

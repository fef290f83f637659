from __future__ import annotations

import uuid

import pytest

from edge.sessions import MAX_AGE_S, SessionTokens

NOW = 1_700_000_000.0


def test_a_new_token_verifies_to_its_session() -> None:
    tokens = SessionTokens("shared-secret")
    session_id, token = tokens.new(NOW)
    assert len(session_id) == 32
    assert tokens.verify(token, NOW) == session_id


def test_an_issued_token_verifies_on_another_edge_with_the_same_secret() -> None:
    session_id = uuid.uuid4().hex
    token = SessionTokens("shared-secret").issue(session_id, NOW)
    assert SessionTokens("shared-secret").verify(token, NOW + 60) == session_id


def test_a_token_signed_with_another_secret_is_refused() -> None:
    _, token = SessionTokens("one-secret").new(NOW)
    assert SessionTokens("another-secret").verify(token, NOW) is None


def test_without_a_secret_each_edge_signs_with_a_random_one() -> None:
    _, token = SessionTokens("").new(NOW)
    assert SessionTokens("").verify(token, NOW) is None


def test_a_tampered_signature_is_refused() -> None:
    tokens = SessionTokens("s")
    _, token = tokens.new(NOW)
    body, _, signature = token.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert tokens.verify(f"{body}.{flipped}", NOW) is None


def test_a_token_for_another_session_with_a_copied_signature_is_refused() -> None:
    tokens = SessionTokens("s")
    session_id, token = tokens.new(NOW)
    other = uuid.uuid4().hex
    assert tokens.verify(token.replace(session_id, other), NOW) is None


def test_a_token_with_a_changed_issue_time_is_refused() -> None:
    tokens = SessionTokens("s")
    session_id, token = tokens.new(NOW)
    signature = token.rpartition(".")[2]
    assert tokens.verify(f"{session_id}.{int(NOW) + 1}.{signature}", NOW + 1) is None


def test_a_token_expires_after_max_age() -> None:
    tokens = SessionTokens("s")
    session_id, token = tokens.new(NOW)
    assert tokens.verify(token, NOW + MAX_AGE_S) == session_id
    assert tokens.verify(token, NOW + MAX_AGE_S + 1) is None


def test_a_future_dated_token_is_refused() -> None:
    tokens = SessionTokens("s")
    session_id = uuid.uuid4().hex
    token = tokens.issue(session_id, NOW + 3600)
    assert tokens.verify(token, NOW) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "garbage",
        "not.a.token",
        f"{'a' * 32}.{int(NOW)}",  # no signature
        f"{'a' * 32}.-5.sig",
        f"{'a' * 32}.12x.sig",
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    assert SessionTokens("s").verify(token, NOW) is None


@pytest.mark.parametrize(
    "session_id",
    [
        "A" * 32,  # upper case
        "a" * 31,
        "a" * 33,
        str(uuid.UUID(int=1)),  # dashed
        "g" * 32,
    ],
)
def test_a_signed_token_with_a_wrong_id_format_is_refused(session_id: str) -> None:
    tokens = SessionTokens("s")
    assert tokens.verify(tokens.issue(session_id, NOW), NOW) is None


def test_a_token_with_a_non_ascii_signature_is_refused_not_an_error() -> None:
    assert SessionTokens("s").verify(f"{'a' * 32}.123.é", 123.0) is None


def test_execution_ids_prove_their_session() -> None:
    tokens = SessionTokens("secret")
    other_edge = SessionTokens("secret")
    session, stranger = "a" * 32, "b" * 32
    execution_id = tokens.execution_id(session)
    assert len(execution_id) == 32 and int(execution_id, 16) >= 0
    assert other_edge.owns(session, execution_id), "any edge with the secret can tell"
    assert not tokens.owns(stranger, execution_id)
    assert not SessionTokens("another secret").owns(session, execution_id)
    assert not tokens.owns(session, execution_id[:16] + "0" * 16)
    assert not tokens.owns(session, "not-hex")
    assert tokens.execution_id(session) != execution_id

from __future__ import annotations

import pytest

from contracts.settings import ApiKey
from edge.auth import LOCAL, AuthError, KeyRing, Quota, RateLimiter

ALICE = ApiKey("alice", "alice-secret-0123456789")
ROOT = ApiKey("root", "root-secret-0123456789", admin=True)


def ring() -> KeyRing:
    return KeyRing((ALICE, ROOT))


# --- KeyRing ----------------------------------------------------------------------------------


def test_without_keys_every_caller_is_the_local_admin() -> None:
    keys = KeyRing(())
    assert keys.open
    principal = keys.authenticate(None)
    assert principal.name == LOCAL
    assert principal.admin
    assert principal.owner == f"key:{LOCAL}"


def test_with_keys_the_ring_is_not_open() -> None:
    assert not ring().open


def test_a_bearer_key_names_its_caller() -> None:
    principal = ring().authenticate(f"Bearer {ALICE.secret}")
    assert principal.name == "alice"
    assert not principal.admin
    assert principal.owner == "key:alice"


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    assert ring().authenticate(f"{scheme} {ALICE.secret}").name == "alice"


def test_an_admin_key_makes_an_admin_caller() -> None:
    principal = ring().authenticate(f"Bearer {ROOT.secret}")
    assert principal.name == "root"
    assert principal.admin


def test_a_wrong_key_is_refused() -> None:
    with pytest.raises(AuthError, match="not valid"):
        ring().authenticate("Bearer not-a-key-of-ours-at-all")


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer    ", f"Basic {ALICE.secret}", ALICE.secret],
)
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(AuthError) as caught:
        ring().authenticate(header)
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"


def test_a_key_is_not_accepted_by_its_prefix() -> None:
    with pytest.raises(AuthError):
        ring().authenticate(f"Bearer {ALICE.secret[:-1]}")


# --- RateLimiter ------------------------------------------------------------------------------


def test_a_burst_of_per_minute_requests_is_allowed_then_refused_with_a_wait() -> None:
    limiter = RateLimiter(per_minute=5)
    assert [limiter.take("a", now=100.0) for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a", now=100.0)
    assert wait > 0
    assert wait == pytest.approx(12.0)  # one token every 60/5 s


def test_tokens_refill_with_time() -> None:
    limiter = RateLimiter(per_minute=60)
    for _ in range(60):
        assert limiter.take("a", now=0.0) == 0.0
    assert limiter.take("a", now=0.0) > 0
    assert limiter.take("a", now=1.0) == 0.0  # one token a second
    assert limiter.take("a", now=1.0) > 0


def test_refill_never_exceeds_the_burst() -> None:
    limiter = RateLimiter(per_minute=3)
    assert limiter.take("a", now=0.0) == 0.0
    allowed = [limiter.take("a", now=10_000.0) for _ in range(4)]
    assert allowed[:3] == [0.0, 0.0, 0.0]
    assert allowed[3] > 0


def test_a_costly_request_spends_several_tokens() -> None:
    limiter = RateLimiter(per_minute=10)
    assert limiter.take("a", now=0.0, cost=7) == 0.0
    wait = limiter.take("a", now=0.0, cost=4)
    assert wait == pytest.approx(6.0)  # one token missing, one token every 6 s
    assert limiter.take("a", now=0.0, cost=3) == 0.0


def test_a_refused_request_spends_nothing() -> None:
    limiter = RateLimiter(per_minute=10)
    assert limiter.take("a", now=0.0, cost=8) == 0.0
    assert limiter.take("a", now=0.0, cost=5) > 0
    assert limiter.take("a", now=0.0, cost=2) == 0.0


def test_each_caller_has_a_bucket_of_its_own() -> None:
    limiter = RateLimiter(per_minute=2)
    assert limiter.take("a", now=0.0, cost=2) == 0.0
    assert limiter.take("a", now=0.0) > 0
    assert limiter.take("b", now=0.0, cost=2) == 0.0


# --- Quota ------------------------------------------------------------------------------------


def test_room_decreases_as_executions_start_and_returns_when_they_finish() -> None:
    quota = Quota(limit=3)
    assert quota.room("alice") == 3
    quota.started("alice", "e1")
    quota.started("alice", "e2")
    assert quota.room("alice") == 1
    quota.finished("e1")
    assert quota.room("alice") == 2
    quota.finished("e2")
    assert quota.room("alice") == 3


def test_finishing_an_unknown_execution_is_harmless() -> None:
    quota = Quota(limit=2)
    quota.started("alice", "e1")
    quota.finished("stranger")
    assert quota.room("alice") == 1


def test_finishing_twice_frees_the_slot_once() -> None:
    quota = Quota(limit=2)
    quota.started("alice", "e1")
    quota.started("alice", "e2")
    quota.finished("e1")
    quota.finished("e1")
    assert quota.room("alice") == 1


def test_quotas_are_per_caller() -> None:
    quota = Quota(limit=2)
    quota.started("alice", "e1")
    quota.started("alice", "e2")
    assert quota.room("alice") == 0
    assert quota.room("bob") == 2
    quota.started("bob", "e3")
    quota.finished("e3")
    assert quota.room("alice") == 0
    assert quota.room("bob") == 2

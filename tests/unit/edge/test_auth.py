from __future__ import annotations

import msgspec
import pytest

from contracts.settings import ApiKey
from edge.auth import LOCAL, AuthError, KeyRing, TokenBucket, Unfinished, admit, forget, spend

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


def test_a_gvisor_key_makes_a_caller_whose_code_runs_under_gvisor() -> None:
    keys = KeyRing((ALICE, ApiKey("bob", "bob-secret-0123456789", isolation="gvisor")))
    assert keys.authenticate("Bearer bob-secret-0123456789").isolation == "gvisor"
    assert keys.authenticate(f"Bearer {ALICE.secret}").isolation == "runc"
    assert KeyRing(()).authenticate(None).isolation == "runc"


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


# --- spend (the rate limit's token bucket) -----------------------------------------------------


class Limiter:
    """The token buckets of several keys, kept here as the limits bucket keeps them."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, name: str, now: float, cost: int = 1) -> float:
        bucket, wait = spend(self.buckets.get(name), self.per_minute, now, cost)
        if bucket is not None:
            self.buckets[name] = bucket
        return wait


def test_a_burst_of_per_minute_requests_is_allowed_then_refused_with_a_wait() -> None:
    limiter = Limiter(per_minute=5)
    assert [limiter.take("a", now=100.0) for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a", now=100.0)
    assert wait > 0
    assert wait == pytest.approx(12.0)  # one token every 60/5 s


def test_tokens_refill_with_time() -> None:
    limiter = Limiter(per_minute=60)
    for _ in range(60):
        assert limiter.take("a", now=0.0) == 0.0
    assert limiter.take("a", now=0.0) > 0
    assert limiter.take("a", now=1.0) == 0.0  # one token a second
    assert limiter.take("a", now=1.0) > 0


def test_refill_never_exceeds_the_burst() -> None:
    limiter = Limiter(per_minute=3)
    assert limiter.take("a", now=0.0) == 0.0
    allowed = [limiter.take("a", now=10_000.0) for _ in range(4)]
    assert allowed[:3] == [0.0, 0.0, 0.0]
    assert allowed[3] > 0


def test_a_costly_request_spends_several_tokens() -> None:
    limiter = Limiter(per_minute=10)
    assert limiter.take("a", now=0.0, cost=7) == 0.0
    wait = limiter.take("a", now=0.0, cost=4)
    assert wait == pytest.approx(6.0)  # one token missing, one token every 6 s
    assert limiter.take("a", now=0.0, cost=3) == 0.0


def test_a_cost_above_the_burst_spends_a_full_bucket() -> None:
    limiter = Limiter(per_minute=10)
    assert limiter.take("a", now=0.0, cost=50) == 0.0
    assert limiter.take("a", now=0.0) == pytest.approx(6.0)


def test_a_refused_request_spends_nothing_and_stores_nothing() -> None:
    limiter = Limiter(per_minute=10)
    assert limiter.take("a", now=0.0, cost=8) == 0.0
    assert spend(limiter.buckets["a"], 10, now=0.0, cost=5) == (None, pytest.approx(18.0))
    assert limiter.take("a", now=0.0, cost=5) > 0
    assert limiter.take("a", now=0.0, cost=2) == 0.0


def test_each_caller_has_a_bucket_of_its_own() -> None:
    limiter = Limiter(per_minute=2)
    assert limiter.take("a", now=0.0, cost=2) == 0.0
    assert limiter.take("a", now=0.0) > 0
    assert limiter.take("b", now=0.0, cost=2) == 0.0


def test_a_clock_behind_the_stored_time_refills_nothing() -> None:
    bucket = TokenBucket(tokens=0.5, at=1_000.0)
    assert spend(bucket, 60, now=990.0) == (None, pytest.approx(0.5))
    after, wait = spend(bucket, 60, now=1_000.5)
    assert wait == 0.0
    assert after == TokenBucket(tokens=pytest.approx(0.0), at=1_000.5)
    # An edge whose clock is behind keeps the later time, so no one refills twice.
    behind, _ = spend(TokenBucket(tokens=5.0, at=1_000.0), 60, now=900.0)
    assert behind == TokenBucket(tokens=4.0, at=1_000.0)


def test_a_token_bucket_survives_its_stored_form() -> None:
    bucket = TokenBucket(tokens=2.5, at=1_700_000_000.25)
    assert msgspec.json.decode(msgspec.json.encode(bucket), type=TokenBucket) == bucket


# --- admit and forget (the quota of unfinished executions) --------------------------------------


def test_room_decreases_as_executions_are_admitted_and_returns_when_they_are_forgotten(
) -> None:
    one = admit(None, 2, "e1", now=1.0)
    assert one == Unfinished({"e1": 1.0})
    two = admit(one, 2, "e2", now=2.0)
    assert two == Unfinished({"e1": 1.0, "e2": 2.0})
    assert admit(two, 2, "e3", now=3.0) is None
    assert forget(two, {"e1"}) == Unfinished({"e2": 2.0})
    assert admit(forget(two, {"e1"}), 2, "e3", now=3.0) == Unfinished({"e2": 2.0, "e3": 3.0})


def test_admitting_forgets_the_gone_executions_first() -> None:
    full = Unfinished({"e1": 1.0, "e2": 2.0})
    assert admit(full, 2, "e3", now=3.0, gone={"e1", "elsewhere"}) == Unfinished(
        {"e2": 2.0, "e3": 3.0})
    assert admit(full, 2, "e3", now=3.0, gone={"elsewhere"}) is None


def test_forgetting_an_unknown_execution_stores_nothing() -> None:
    assert forget(None, {"e1"}) is None
    assert forget(Unfinished({"e1": 1.0}), {"stranger"}) is None


def test_forgetting_twice_frees_the_place_once() -> None:
    once = forget(Unfinished({"e1": 1.0, "e2": 2.0}), {"e1"})
    assert once == Unfinished({"e2": 2.0})
    assert forget(once, {"e1"}) is None


def test_unfinished_executions_survive_their_stored_form() -> None:
    unfinished = Unfinished({"e1": 1.5, "e2": 2.0})
    assert msgspec.json.decode(msgspec.json.encode(unfinished), type=Unfinished) == unfinished

from __future__ import annotations

import pytest

from contracts.settings import DispatcherSettings, EdgeSettings, RunnerSettings, SettingsError


def test_defaults_follow_the_original_design() -> None:
    settings = DispatcherSettings.from_env({})
    # The cap and the queue follow the runners' slots (dispatcher/fleet_limits.py).
    assert (settings.max_concurrent, settings.queue_capacity, settings.queue_timeout_s) == (
        None, None, 60,
    )
    assert RunnerSettings.from_env({}).container_ttl_s == 60


def test_environment_overrides_defaults() -> None:
    env = {"MAX_CONCURRENT_SESSIONS": "3", "QUEUE_CAPACITY": "7", "QUEUE_TIMEOUT": "2"}
    settings = DispatcherSettings.from_env(env)
    assert (settings.max_concurrent, settings.queue_capacity, settings.queue_timeout_s) == (3, 7, 2)


@pytest.mark.parametrize("value", ["lots", "0", "-4"])
def test_a_bad_number_is_refused_with_its_name(value: str) -> None:
    with pytest.raises(SettingsError, match="MAX_CONCURRENT_SESSIONS"):
        DispatcherSettings.from_env({"MAX_CONCURRENT_SESSIONS": value})


def test_keys_named_in_gvisor_keys_run_under_gvisor_and_the_rest_under_runc() -> None:
    env = {"API_KEYS": "alice:alice-secret-0123456789,bob:bob-secret-0123456789",
           "GVISOR_KEYS": "bob"}
    keys = {key.name: key.isolation for key in EdgeSettings.from_env(env).api_keys}
    assert keys == {"alice": "runc", "bob": "gvisor"}


def test_gvisor_keys_naming_no_key_is_refused() -> None:
    env = {"API_KEYS": "alice:alice-secret-0123456789", "GVISOR_KEYS": "alcie"}
    with pytest.raises(SettingsError, match="GVISOR_KEYS names no API key: alcie"):
        EdgeSettings.from_env(env)


def test_the_runners_default_isolation_is_runc_and_only_runc_or_gvisor() -> None:
    assert RunnerSettings.from_env({}).default_isolation == "runc"
    assert RunnerSettings.from_env({"DEFAULT_ISOLATION": "gVisor"}).default_isolation == "gvisor"
    with pytest.raises(SettingsError, match="DEFAULT_ISOLATION must be runc or gvisor"):
        RunnerSettings.from_env({"DEFAULT_ISOLATION": "kata"})


def test_edges_place_jobs_on_seats_unless_told_not_to() -> None:
    assert EdgeSettings.from_env({}).places_on_seats
    assert not EdgeSettings.from_env({"EDGE_PLACES_ON_SEATS": "false"}).places_on_seats

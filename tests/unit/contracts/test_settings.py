from __future__ import annotations

import pytest

from contracts.settings import DispatcherSettings, RunnerSettings, SettingsError


def test_defaults_follow_the_original_design() -> None:
    settings = DispatcherSettings.from_env({})
    assert (settings.max_concurrent, settings.queue_capacity, settings.queue_timeout_s) == (
        50, 200, 60,
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

"""Every component reads its NATS credentials and TLS from the same variables."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from contracts.nats_options import NatsOptions, NatsOptionsError, connect_options
from contracts.settings import (
    DispatcherSettings,
    EdgeSettings,
    JanitorSettings,
    RunnerSettings,
    SettingsError,
)


def test_every_component_takes_the_same_user_and_password(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    env = {"NATS_USER": "runner-a", "NATS_PASSWORD_FILE": str(secret)}
    for settings in (EdgeSettings.from_env(env), DispatcherSettings.from_env(env),
                     RunnerSettings.from_env(env), JanitorSettings.from_env(env)):
        assert settings.nats == NatsOptions(user="runner-a", password="s3cret")
    kwargs = connect_options("nats://a:4222, nats://b:4222", NatsOptions.from_env(env), "x")
    assert kwargs == {"servers": ["nats://a:4222", "nats://b:4222"], "name": "x",
                      "user": "runner-a", "password": "s3cret"}


def test_credentials_file_and_nkey_seed_are_passed_by_path(tmp_path: Path) -> None:
    creds = tmp_path / "runner.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    kwargs = connect_options("nats://a:4222", NatsOptions.from_env({"NATS_CREDS": str(creds)}),
                             "x")
    assert kwargs["user_credentials"] == str(creds)
    kwargs = connect_options("nats://a:4222",
                             NatsOptions.from_env({"NATS_NKEY_SEED": str(creds)}), "x")
    assert kwargs["nkeys_seed"] == str(creds)


def test_a_ca_alone_makes_a_verifying_tls_context() -> None:
    ca = "/etc/ssl/certs/ca-certificates.crt"  # Debian's bundle (ca-certificates)
    context = NatsOptions(tls_ca=ca).tls_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert NatsOptions().tls_context() is None


@pytest.mark.parametrize(("env", "problem"), [
    ({"NATS_USER": "u"}, "NATS_USER and NATS_PASSWORD go together"),
    ({"NATS_USER": "u", "NATS_PASSWORD": "p", "NATS_CREDS": "/etc/hostname"},
     "set only one of NATS_CREDS and NATS_USER"),
    ({"NATS_TLS_CERT": "/etc/hostname"}, "NATS_TLS_CERT and NATS_TLS_KEY go together"),
    ({"NATS_TLS_CA": "/nonexistent/ca.pem"}, "NATS_TLS_CA '/nonexistent/ca.pem' is not"),
])
def test_settings_that_cannot_work_are_refused_at_start(env: dict[str, str],
                                                        problem: str) -> None:
    with pytest.raises(NatsOptionsError, match=problem):
        NatsOptions.from_env(env)
    with pytest.raises(SettingsError, match=problem):
        RunnerSettings.from_env(env)

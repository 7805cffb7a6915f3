"""Settings: defaults that run on one machine, and refusals that name the variable."""

from __future__ import annotations

import pytest

from smsbot import config
from smsbot.exceptions import ConfigError


def load(tmp_path, **env: str) -> config.Settings:  # noqa: ANN001
    return config.load({"SMSBOT_INSTANCE_PATH": str(tmp_path), **env})


def test_defaults_run_locally_with_sqlite_and_the_outbox(tmp_path):
    settings = load(tmp_path)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'smsbot.db'}"
    assert settings.redis_url is None
    assert settings.default_provider == "outbox"
    assert [c.kind for c in settings.providers] == ["outbox"]
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert len(settings.secret_key) >= 32
    assert load(tmp_path).secret_key == settings.secret_key  # generated once, kept


def test_twilio_credentials_choose_the_twilio_transport(tmp_path):
    settings = load(
        tmp_path,
        TWILIO_ACCOUNT_SID="AC" + "a" * 32,
        TWILIO_AUTH_TOKEN="token",
        TWILIO_FROM="8 (985) 393-13-21",
        TWILIO_API_BASE_URL="http://127.0.0.1:8081/",
    )
    assert settings.default_provider == "twilio"
    twilio = next(c for c in settings.providers if c.kind == "twilio")
    assert twilio.sender == "+79853931321"
    assert twilio.api_base_url == "http://127.0.0.1:8081"
    assert twilio.auth_token == "token"
    assert "token" not in repr(settings)  # secrets never printed with the settings


def test_postgres_urls_use_psycopg(tmp_path):
    settings = load(tmp_path, DATABASE_URL="postgres://u:p@db:5432/smsbot")
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/smsbot"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"PUBLIC_BASE_URL": "example.org"}, "PUBLIC_BASE_URL"),
        ({"SMSBOT_ENV": "staging"}, "SMSBOT_ENV"),
        ({"TRUSTED_PROXIES": "two"}, "TRUSTED_PROXIES"),
        ({"TWILIO_ACCOUNT_SID": "AC" + "a" * 32}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_AUTH_TOKEN": "t"}, "TWILIO_ACCOUNT_SID"),
        (
            {
                "TWILIO_ACCOUNT_SID": "XX" + "a" * 32,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM": "+79853931321",
            },
            "TWILIO_ACCOUNT_SID",
        ),
        ({"TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_FROM"),
        (
            {"TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "12"},
            "TWILIO_FROM",
        ),
        ({"TWILIO_MESSAGING_SERVICE_SID": "XX1"}, "TWILIO_MESSAGING_SERVICE_SID"),
        ({"TWILIO_API_BASE_URL": "ftp://x"}, "TWILIO_API_BASE_URL"),
        ({"SMSBOT_ENV": "production", "SECRET_KEY": "changeme"}, "SECRET_KEY"),
        (
            {"SMSBOT_ENV": "production", "SECRET_KEY": "x" * 40},
            "SMPP_HOST",
        ),  # or any other real provider
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, **env)
    assert error.value.variable == variable
    assert str(error.value).startswith(variable)


def test_the_cli_prints_the_variable_and_exits(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "smsbot.cli", "check-config"],
        env={
            "PATH": "/usr/bin:/bin",
            "SMSBOT_INSTANCE_PATH": str(tmp_path),
            "REDIS_URL": "nonsense",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "REDIS_URL must be a URL" in result.stderr

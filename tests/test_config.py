"""Settings come from the environment only; production refuses to start without real secrets."""

from __future__ import annotations

import pytest
import structlog.testing
from click.testing import CliRunner

from service.cli import main
from service.config import ConfigError, Settings

STRONG = "s" * 48


def production(**overrides: str) -> dict[str, str]:
    env = {
        "ENV": "production",
        "DATABASE_URL": "postgresql://u:p@db.internal/app",
        "JWT_SECRET": STRONG,
        "PUBLIC_BASE_URL": "https://api.reachimpact.example",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def test_production_settings_load_with_real_secrets():
    settings = Settings.from_env(production())
    assert settings.is_production
    assert settings.log_format == "json"
    assert settings.jwt_secret == STRONG


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"JWT_SECRET": ""}, "JWT_SECRET"),
        ({"JWT_SECRET": "short-secret"}, "JWT_SECRET"),
        ({"JWT_PREVIOUS_SECRETS": "weak"}, "JWT_PREVIOUS_SECRETS"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
    ],
)
def test_bad_production_settings_name_the_variable(overrides, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(production(**overrides))


def test_serve_stops_with_one_clear_line_when_a_secret_is_missing(monkeypatch):
    for name, value in production(JWT_SECRET="").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["serve", "--no-migrate"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "configuration error: JWT_SECRET must be set to at least 32 random characters in production"
    ]


def test_development_generates_a_secret_once_and_keeps_it(tmp_path):
    env = {"REACHIMPACT_DATA_DIR": str(tmp_path)}
    # Captured as log events: what reaches stdout depends on how an earlier test in the process set up logging.
    with structlog.testing.capture_logs() as logs:
        first = Settings.from_env(env)
    assert len(first.jwt_secret) >= 32
    assert any("JWT_SECRET is not set" in entry["event"] and entry["log_level"] == "warning" for entry in logs)
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert Settings.from_env(env).jwt_secret == first.jwt_secret


def test_defaults_and_lists():
    settings = Settings.from_env(
        {"JWT_SECRET": STRONG, "CORS_ORIGINS": "https://a.test, https://b.test", "PORT": "9000", "HOST": "0.0.0.0"}
    )
    assert settings.cors_origins == ("https://a.test", "https://b.test")
    assert settings.public_base_url == "http://0.0.0.0:9000"
    assert settings.log_format == "console"
    assert settings.database_url is None  # means: the embedded server


def test_the_dialer_lease_outlasts_a_dial_in_flight():
    settings = Settings.from_env(production())
    assert (settings.dialer_send_deadline_seconds, settings.twilio_timeout_seconds) == (5, 10)
    assert settings.dialer_lease_seconds == 20
    shorter = {"DIALER_SEND_DEADLINE_SECONDS": "3", "TWILIO_TIMEOUT_SECONDS": "3", "DIALER_LEASE_SECONDS": "7"}
    assert Settings.from_env(production(**shorter)).dialer_lease_seconds == 7
    # A claim reconciled while its dial may still be on its way could be dialed twice.
    with pytest.raises(ConfigError, match="DIALER_LEASE_SECONDS must exceed"):
        Settings.from_env(production(**{**shorter, "DIALER_LEASE_SECONDS": "6"}))
    with pytest.raises(ConfigError, match="DIALER_LEASE_SECONDS must exceed"):
        Settings.from_env(production(TWILIO_TIMEOUT_SECONDS="15"))
    with pytest.raises(ConfigError, match="DIALER_SEND_DEADLINE_SECONDS must be at least 3"):
        Settings.from_env(production(DIALER_SEND_DEADLINE_SECONDS="2"))

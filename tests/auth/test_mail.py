"""The SMTP client: without SMTP_URL the mail goes to the log (never its secret link in production)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from service.config import ConfigError
from service.logging import configure_logging
from service.mail import Mail, Mailer, MailError
from tests.fakes.ports import free_port

MAIL = Mail(to="ada@example.com", subject="Reset", text="open https://example.com/reset?token=SECRET")


async def test_in_development_the_mail_is_written_to_the_log():
    with capture_logs() as logs:
        await Mailer(None, "ReachImpact <no-reply@example.com>", production=False).send(MAIL)
    assert logs[0]["to"] == "ada@example.com"
    assert "SECRET" in logs[0]["text"]


async def test_the_mail_log_follows_the_logging_configuration_in_force():
    """The mail's logger is cached at its first mail. It kept that moment's processors: after another logging
    configuration (a second app in the process) its lines went where nothing looked, and the test above failed
    by test order."""
    configure_logging("INFO", "json")
    await Mailer(None, "ReachImpact <no-reply@example.com>", production=False).send(MAIL)
    configure_logging("INFO", "console")
    with capture_logs() as logs:
        await Mailer(None, "ReachImpact <no-reply@example.com>", production=False).send(MAIL)
    assert [entry["to"] for entry in logs] == ["ada@example.com"]


async def test_in_production_the_log_never_holds_the_body():
    with capture_logs() as logs:
        await Mailer(None, "ReachImpact <no-reply@example.com>", production=True).send(MAIL)
    assert logs[0]["log_level"] == "error"
    assert "SECRET" not in repr(logs)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_a_bad_smtp_url_names_the_setting(url):
    with pytest.raises(ConfigError, match="SMTP_URL"):
        Mailer(url, "a@example.com", production=False)


async def test_an_unreachable_server_raises_mail_error():
    mailer = Mailer(f"smtp://127.0.0.1:{free_port()}", "a@example.com", production=False)
    with pytest.raises(MailError, match=r"127\.0\.0\.1"):
        await mailer.send(MAIL)

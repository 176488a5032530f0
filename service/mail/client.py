"""A small SMTP client: stdlib smtplib, run in a thread so the event loop never waits on the network.

SMTP_URL picks the transport:
- `smtp://[user:password@]host[:25]`: plain (a local relay, or a test server);
- `smtp+starttls://[user:password@]host[:587]`: STARTTLS, required;
- `smtps://[user:password@]host[:465]`: TLS from the first byte.

Without SMTP_URL, outside production, the mail is written to the log so a newcomer can finish a reset flow
locally. In production the body (which holds a secret link) is never logged.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import structlog

from service.config import ConfigError

log = structlog.get_logger("mail")

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT_SECONDS = 15


class MailError(Exception):
    """The mail could not be handed to the SMTP server."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError("SMTP_URL must look like smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class Mailer:
    def __init__(self, smtp_url: str | None, sender: str, *, production: bool) -> None:
        self.target = SmtpTarget.parse(smtp_url) if smtp_url else None
        self.sender = sender
        self.production = production

    async def send(self, mail: Mail) -> None:
        """Hand the mail to the SMTP server (or the log). Raises MailError."""
        if self.target is None:
            self._log(mail)
            return
        message = self._message(mail)
        try:
            await asyncio.to_thread(self._deliver, self.target, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP delivery to {self.target.host}:{self.target.port} failed: {exc}") from exc

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].rstrip(">") or None)
        message.set_content(mail.text)
        return message

    @staticmethod
    def _deliver(target: SmtpTarget, message: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if target.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(
                target.host, target.port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
        with smtp:
            if target.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message)

    def _log(self, mail: Mail) -> None:
        if self.production:
            log.error("SMTP_URL is not set: mail not sent", to=mail.to, subject=mail.subject)
        else:
            log.warning(
                "SMTP_URL is not set: the mail is written here instead",
                to=mail.to,
                subject=mail.subject,
                text=mail.text,
            )

"""Outgoing mail: the one SMTP client module (tests point it at a loopback aiosmtpd server)."""

from service.mail.client import Mail, Mailer, MailError

__all__ = ["Mail", "MailError", "Mailer"]

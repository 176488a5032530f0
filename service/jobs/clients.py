"""External clients that job handlers reach as `ctx.clients[name]`, built once per worker process.

A feature whose jobs call an external service adds its client here, built from the settings.
"""

from __future__ import annotations

from typing import Any

from service.config import Settings
from service.mail import Mailer
from service.openai import OpenAIClient
from service.twilio import TwilioClient


def build_clients(settings: Settings) -> dict[str, Any]:
    return {
        "mailer": Mailer(settings.smtp_url, settings.mail_from, production=settings.is_production),
        "openai": OpenAIClient(settings),
        "twilio": TwilioClient(settings),
        # The dialer paces the account itself: a 429 comes straight back to it instead of being retried inline.
        "twilio_dialer": TwilioClient(settings, retry_delays=()),
    }

"""Phone numbers as every table stores them: E.164, with numbers lacking a country code read in a region."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumber


def parse_phone(raw: str, region: str) -> PhoneNumber | None:
    """The parsed number, or None when the text is not a phone number at all. Callers decide how strict to be."""
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

"""Phone numbers as every table stores them: E.164, with numbers lacking a country code read in a region."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumber

# What ``e164`` writes, and what the tables' phone_e164 CHECK constraints accept.
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def parse_phone(raw: str, region: str) -> PhoneNumber | None:
    """The parsed number, or None when the text is not a phone number at all. Callers decide how strict to be."""
    digits = raw.lstrip()
    if digits.startswith("00") and not digits.startswith("000"):
        # 00 is the international prefix in most of the world (ITU E.164 recommends it), also where
        # the default region dials 011: read it as "+", as an operator would.
        raw = "+" + digits[2:]
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

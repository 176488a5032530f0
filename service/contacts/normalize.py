"""Field rules of a contact: what a client sends becomes column values, or a InvalidField naming the field.

Pure functions, shared by the single-contact routes, the bulk write and the CSV import.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import phonenumbers
from msgspec import UNSET
from phonenumbers import timezone as phone_timezones

from service.contacts.schemas import ContactIn, Rejection
from service.phones import e164, parse_phone
from service.timezones import is_known_zone

# A deliberately loose check: something@domain.tld. Deliverability is not ours to judge.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UNKNOWN_ZONE = "Etc/Unknown"
MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
# Plain text columns copied as they come (trimmed, empty -> null).
TEXT_FIELDS = ("first_name", "last_name", "job_title", "industry", "notes", "source")
IDENTIFYING = ("first_name", "last_name", "phone", "email")


class InvalidField(ValueError):
    """A contact field that breaks a rule; the service turns it into a ValidationFailed (or a bulk rejection)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def wire(field: str) -> str:
    """The camelCase name a client sent, for error messages."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def normalize_phone(raw: str | None, region: str, *, field: str = "phone") -> tuple[str | None, str | None]:
    """(E.164, its time zone) or InvalidField. A possible number is enough: validity tables lag behind real plans.

    The zone is the one the number's area lies in, or None when it spans several (mobiles, toll-free).
    """
    raw = clean(raw)
    if raw is None:
        return None, None
    number = parse_phone(raw, region)
    if number is None:
        raise InvalidField(field, f"{raw!r} is not a phone number")
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidField(field, f"{raw!r} is not a complete phone number")
    zones = phone_timezones.time_zones_for_geographical_number(number)
    zone = zones[0] if len(zones) == 1 and zones[0] != UNKNOWN_ZONE else None
    return e164(number), zone


def normalize_timezone(raw: str | None) -> str | None:
    raw = clean(raw)
    if raw is not None and not is_known_zone(raw):
        raise InvalidField("timezone", f"{raw!r} is not an IANA time zone")
    return raw


def normalize_email(raw: str | None) -> str | None:
    raw = clean(raw)
    if raw is None:
        return None
    if not EMAIL.match(raw):
        raise InvalidField("email", f"{raw!r} is not an e-mail address")
    return raw.lower()


def normalize_tags(tags: list[str] | None) -> list[str]:
    """Trimmed, without empties or repeats, in the order given."""
    return list(dict.fromkeys(tag.strip() for tag in tags or () if tag.strip()))


def split_full_name(full_name: str) -> tuple[str, str | None]:
    first, _, last = full_name.strip().partition(" ")
    return first, clean(last)


def to_columns(data: ContactIn, region: str, *, replace: bool) -> dict[str, Any]:
    """Column values for an insert or update.

    replace=True (POST, PUT, bulk): absent fields become null or their default, and the contact must carry a
    name, a phone or an e-mail. replace=False (PATCH): only the fields sent are returned.
    """
    given = {f: v for f in data.__struct_fields__ if (v := getattr(data, f)) is not UNSET}
    columns: dict[str, Any] = {f: clean(given[f]) for f in TEXT_FIELDS if f in given}

    full_name = clean(given.get("full_name"))
    if full_name and not (given.get("first_name") or given.get("last_name")):
        columns["first_name"], columns["last_name"] = split_full_name(full_name)
    if "company" in given or "company_name" in given:
        columns["company"] = clean(given.get("company") or given.get("company_name"))
    if "email" in given:
        columns["email"] = normalize_email(given["email"])
    if "tags" in given:
        columns["tags"] = normalize_tags(given["tags"])
    if "status" in given:
        columns["status"] = given["status"] or "new"
    phone_field = "phone_number" if "phone_number" in given else "phone"
    if phone_field in given:
        # A (new) number brings its own zone, unless one is given explicitly.
        columns["phone"], columns["timezone"] = normalize_phone(given[phone_field], region, field=wire(phone_field))
    if given.get("timezone") is not None:
        columns["timezone"] = normalize_timezone(given["timezone"])

    if replace:
        columns = {**REPLACE_DEFAULTS, **columns}
        if not any(columns[f] for f in IDENTIFYING):
            raise InvalidField("contact", "needs a name, a phone number or an e-mail address")
    return columns


REPLACE_DEFAULTS: dict[str, Any] = {
    "first_name": None,
    "last_name": None,
    "email": None,
    "phone": None,
    "company": None,
    "job_title": None,
    "industry": None,
    "notes": None,
    "tags": [],
    "source": None,
    "status": "new",
    "timezone": None,
}


def describe_validation_error(exc: msgspec.ValidationError) -> InvalidField:
    """msgspec says "Expected `str`, got `int` - at `$.phone`"; keep the field path and the problem apart."""
    message, _, path = str(exc).partition(" - at `")
    field = path.rstrip("`").removeprefix("$.").removeprefix("$")
    if missing := MISSING_FIELD.match(message):
        field = f"{field}.{missing[1]}" if field else missing[1]
    return InvalidField(field or "body", message)


_decode_contact = msgspec.json.Decoder(ContactIn).decode

# One row of a bulk write, validated: (its index in the request or file, its column values) or the reason.
Validated = tuple[int, dict[str, Any]] | Rejection


def validate_row(index: int, source: msgspec.Raw | dict[str, Any], region: str) -> Validated:
    """A bulk item (raw JSON) or a CSV record (dict of wire names) through the same rules as POST."""
    try:
        data = msgspec.convert(source, ContactIn) if isinstance(source, dict) else _decode_contact(source)
        return index, to_columns(data, region, replace=True)
    except msgspec.ValidationError as exc:
        return Rejection(index, str(describe_validation_error(exc)))
    except msgspec.DecodeError as exc:
        return Rejection(index, f"not a JSON object: {exc}")
    except InvalidField as exc:
        return Rejection(index, str(exc))

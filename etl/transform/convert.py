"""Column converters: a plain Python value (from ``etl.values.to_python``) -> the value of one column.

A converter raises ``ValueError`` when the value does not fit its column. The engine then keeps the
source value, typed, in ``extra`` (``<field>Raw``) and counts it in the report, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from service.phones import e164, parse_phone

# Epoch numbers below this are seconds, above it milliseconds (1e11 ms is 1973; 1e11 s is year 5138).
EPOCH_MS_THRESHOLD = 10**11
INT32_MAX = 2**31 - 1
# jsonb numbers are doubles in most readers: integers past 2^53 would silently round.
JSON_SAFE_INT = 2**53
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FRACTION = re.compile(r"[.,](\d+)")
# ASCII digits only: a str pattern's \d also takes other scripts' digits, which the tables' CHECK refuses.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_PUNCTUATION = re.compile(r"[\s().\-]")


@dataclass(slots=True)
class Context:
    """What a conversion may need beyond the value, and what it observed."""

    default_region: str = "US"
    # The snapshot's read time: the creation time of a document that records none.
    read_time: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    truncated: int = 0  # timestamps that lost digits below the microsecond
    notes: list[str] = field(default_factory=list)


Converter = Callable[[Any, Context], Any]


def text(value: Any, _: Context) -> str:
    """Strings as they are; numbers (a phone or zip stored as a number) as their decimal text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {type(value).__name__}")


def email(value: Any, ctx: Context) -> str:
    """An e-mail address, lower-cased (users.email is unique case-insensitively)."""
    address = text(value, ctx).strip().lower()
    if "@" not in address:
        raise ValueError(f"not an e-mail address: {address!r}")
    return address


def phone_e164(value: Any, ctx: Context) -> str:
    """Any written phone number -> E.164, read in the default region when it has no country code."""
    raw = text(value, ctx).strip()
    if _E164.fullmatch(raw):
        return raw  # international and well formed, as most stored numbers are: parsing costs ~50 µs
    compact = _PUNCTUATION.sub("", raw)
    if _E164.fullmatch(compact):
        return compact
    number = parse_phone(raw, ctx.default_region)
    if number is None:
        raise ValueError(f"unparseable phone number {raw!r}")
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"impossible phone number {raw!r}")
    return e164(number)


def integer(value: Any, _: Context) -> int:
    """Whole numbers within int32 (the integer columns); an integral double counts as whole."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    if not -INT32_MAX - 1 <= value <= INT32_MAX:
        raise ValueError(f"{value} does not fit a 32-bit integer column")
    return value


def non_negative(value: Any, ctx: Context) -> int:
    number = integer(value, ctx)
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def boolean(value: Any, _: Context) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def timestamp(value: Any, ctx: Context) -> dt.datetime:
    """Firestore Timestamp, ISO 8601 text, epoch seconds or milliseconds, or a {seconds, nanos} map."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        return _iso(value.strip(), ctx)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"not a time: {value}")
        milliseconds = value if abs(value) >= EPOCH_MS_THRESHOLD else value * 1000
        return _EPOCH + dt.timedelta(milliseconds=milliseconds)
    if isinstance(value, Mapping):
        return _seconds_map(value, ctx)
    raise ValueError(f"expected a time, got {type(value).__name__}")


def _iso(value: str, ctx: Context) -> dt.datetime:
    fraction = _FRACTION.search(value)
    if fraction and len(fraction.group(1)) > 6:
        if fraction.group(1)[6:].strip("0"):
            ctx.truncated += 1
        value = value[: fraction.start(1) + 6] + value[fraction.end(1) :]
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _seconds_map(value: Mapping[str, Any], ctx: Context) -> dt.datetime:
    """``{"_seconds", "_nanoseconds"}``: how a Timestamp looks after a plain JSON.stringify."""
    seconds = value.get("_seconds", value.get("seconds"))
    nanos = value.get("_nanoseconds", value.get("nanoseconds", 0))
    if not isinstance(seconds, int) or not isinstance(nanos, int) or set(value) - _SECONDS_KEYS:
        raise ValueError("a map that is not a {seconds, nanoseconds} time")
    if nanos % 1000:
        ctx.truncated += 1
    return _EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)


_SECONDS_KEYS = {"_seconds", "_nanoseconds", "seconds", "nanoseconds"}


def string_list(value: Any, ctx: Context) -> list[str]:
    """A list of texts; a single comma-separated text (older tag fields) is split."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [text(item, ctx) for item in value]
    raise ValueError(f"expected a list of texts, got {type(value).__name__}")


def plain_json(value: Any, ctx: Context) -> Any:
    """Values jsonb holds without loss: no bytes, times, geo points, NaN or integers past 2^53."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > JSON_SAFE_INT:
            raise ValueError(f"{value} is past 2^53")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, list):
        return [plain_json(item, ctx) for item in value]
    if isinstance(value, dict):
        return {str(k): plain_json(v, ctx) for k, v in value.items()}
    raise ValueError(f"{type(value).__name__} has no plain JSON form")


def choice(allowed: tuple[str, ...], synonyms: Mapping[str, str] | None = None) -> Converter:
    """An enumeration column: case, spaces and dashes are forgiven; known historical spellings map."""
    lookup = {_key(v): v for v in allowed} | {_key(k): v for k, v in (synonyms or {}).items()}

    def convert(value: Any, ctx: Context) -> str:
        found = lookup.get(_key(text(value, ctx)))
        if found is None:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return found

    return convert


@functools.lru_cache(maxsize=4096)  # a handful of spellings, met once per document
def _key(value: str) -> str:
    return re.sub(r"[\s_-]+", "_", value.strip().lower())

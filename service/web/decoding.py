"""Request bodies and parameters are decoded here, once, with the same rules for every route.

What a client sends is refused with a 400 naming the problem, never passed on to fail deeper (a 500):
- JSON nested deeper than MAX_JSON_DEPTH: nothing the API accepts is deeper, and deep nesting only costs stack;
- bytes that are not UTF-8;
- the NUL character, in JSON bodies and in query parameters and paths (the edge checks those): PostgreSQL text
  cannot hold it, and no person types it.
`HardenedRequest` makes Litestar's own JSON decoding (every `data:` parameter) go through `decode_json`; routes
that decode a body themselves (the bulk contacts) call it directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.types import Empty

from service.errors import FieldError, ValidationFailed

MAX_JSON_DEPTH = 64
FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"

_NOT_STRUCTURE = bytes(set(range(256)) - set(b'[]{}"'))
_OPENING = frozenset(b"[{")
_NUL_ESCAPE = b"\\u0000"

_decode_any = msgspec.json.Decoder().decode


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than `limit` (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:  # the common case, at C speed: cannot be deeper
        return False
    # At C speed: escaped backslashes and quotes out (in this order, so `\\"` ends its string), then all but
    # quotes and brackets, then `""` (an empty string, or two adjacent ones merged). What is left is mostly the
    # brackets, walked once.
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    depth, in_string = 0, False
    for byte in skeleton:
        if byte == 0x22:
            in_string = not in_string
        elif in_string:
            continue
        elif byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def has_nul_escape(raw: bytes) -> bool:
    r"""Whether a JSON text holds `\u0000` (a raw NUL byte is malformed JSON, which the decoder refuses).

    `\\u0000` is a backslash followed by the text "u0000", not a NUL: what counts is an odd run of backslashes.
    """
    at = raw.find(_NUL_ESCAPE)
    while at != -1:
        start = at
        while start > 0 and raw[start - 1] == 0x5C:
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = raw.find(_NUL_ESCAPE, at + 1)
    return False


def nul_path(value: Any, path: str = "") -> str | None:
    """Where in decoded JSON (or a CSV record) the first string holding NUL is, as a field path (`tags[1]`)."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path or "body"
            if (found := nul_path(item, f"{path}.{key}" if path else key)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def nul_refused(field: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}: {NUL_MESSAGE}", [FieldError(field, NUL_MESSAGE)], code="invalid_text")


def _malformed(reason: str) -> ValidationFailed:
    return ValidationFailed(f"The body is not valid JSON: {reason}", [FieldError("body", reason)], code="invalid_json")


def decode_json(raw: bytes, decode: Any = _decode_any) -> Any:
    """`raw` decoded by `decode` (a msgspec decoder, untyped by default) once it passed the rules above.

    A typed decoder's own msgspec.ValidationError is left to the caller, which knows how to name the field.
    """
    if too_deep(raw):
        raise _malformed(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        # Checked whole (about 1 ms a MB): a typed decoder leaves msgspec.Raw parts (bulk items) unread.
        raw.decode()
    except UnicodeDecodeError:
        raise _malformed("the body is not valid UTF-8") from None
    try:
        value = decode(raw)
    except RecursionError:  # unreachable past too_deep(), kept so no input can turn into a 500
        raise _malformed(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as exc:
        raise _malformed(str(exc).removeprefix("JSON is malformed: ")) from None
    if has_nul_escape(raw):
        raise nul_refused(nul_path(value if decode is _decode_any else _decode_any(raw)) or "body")
    return value


def whole_number(raw: str) -> int | None:
    """ASCII digits as an int, else None. `str.isdigit()` also accepts "²" and other digits `int()` refuses."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


def parse_instant(raw: str, field: str, tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 date ("2025-03-01": midnight) or date-time; without an offset it is in `tz`.

    Refused unless it lies strictly between the first and the last moment of years 1-9999 in UTC:
    "9999-12-31T23:59:59-14:00" is a valid ISO string but no datetime can hold it in UTC, and asyncpg stores the
    two end moments themselves as -infinity and infinity.
    """
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            f"Invalid {field}: {raw!r} is not an ISO 8601 date or date-time",
            [FieldError(field, "is not an ISO 8601 date or date-time")],
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=tz)
    try:
        in_range = FIRST_INSTANT < value < LAST_INSTANT
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValidationFailed(
            f"Invalid {field}: {raw!r} is outside the years 1-9999 in UTC",
            [FieldError(field, "is outside the years 1-9999 in UTC")],
        ) from None
    return value


def query_nul_field(query_string: bytes) -> str | None:
    """The first query parameter whose name or value holds NUL, or None (checked at the edge, for every route)."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return "query"


class HardenedRequest(Request):
    """Litestar's Request, decoding JSON bodies with `decode_json` (set as the app's `request_class`)."""

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                self._json = self._connection_state.json = decode_json(await self.body() or b"null")
        return self._json

"""Keyset pagination for newest-first lists: an opaque cursor, a `limit`, and the next-page headers.

A cursor names the last row of a page by (created_at, id), the same key as the list indexes, so every page
is one index range scan however deep the client pages, and rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from service.errors import ValidationFailed
from service.web.decoding import whole_number

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Microseconds since the epoch (signed 64-bit) + the 16 bytes of the id: 32 URL-safe characters.
_CURSOR = struct.Struct(">q16s")


Row = TypeVar("Row", bound=Mapping[str, Any])

# (created_at, id) of the last row a client has seen.
Keyset = tuple[datetime, uuid.UUID]


def encode_cursor(created_at: datetime, id: uuid.UUID) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(_CURSOR.pack(micros, id.bytes)).decode().rstrip("=")


def decode_cursor(cursor: str) -> Keyset:
    try:
        micros, id_bytes = _CURSOR.unpack(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return _EPOCH + timedelta(microseconds=micros), uuid.UUID(bytes=id_bytes)
    except (ValueError, struct.error, OverflowError):
        raise ValidationFailed.field(
            "cursor", "not a cursor this list gave out", message="Invalid cursor", code="invalid_cursor"
        ) from None


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    limit = whole_number(raw)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field(
            "limit", f"expected 1..{MAX_LIMIT}", message=f"limit must be a whole number from 1 to {MAX_LIMIT}"
        )
    return limit


def parse_choice(raw: str | None, field: str, allowed: Sequence[str]) -> str | None:
    """An optional enumeration filter such as `status`."""
    if raw is not None and raw not in allowed:
        raise ValidationFailed.field(field, f"unknown {field}", message=f"{field} must be one of {', '.join(allowed)}")
    return raw


def paginate(
    rows: Sequence[Row], limit: int, path: str, query: Mapping[str, str]
) -> tuple[Sequence[Row], dict[str, str] | None]:
    """The page (rows were fetched with limit + 1) and, when another page follows, its headers:
    `Link: <...>; rel="next"` (RFC 8288) and `X-Next-Cursor`."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    next_query = urlencode({**query, "cursor": cursor})
    return rows, {"Link": f'<{path}?{next_query}>; rel="next"', "X-Next-Cursor": cursor}

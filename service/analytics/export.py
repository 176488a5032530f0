"""The calls export as CSV: written batch by batch, with cells a spreadsheet would run as formulas defused."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

HEADER = (
    "callId",
    "createdAt",
    "startedAt",
    "endedAt",
    "direction",
    "status",
    "outcome",
    "durationSeconds",
    "phoneNumber",
    "contactId",
    "contactName",
    "campaignId",
    "campaignName",
    "answeredBy",
    "notes",
)
# What Excel, LibreOffice and Google Sheets read as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any, tz: ZoneInfo) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value  # shown as text, never evaluated
    return value


def lines(rows: Iterable[Iterable[Any]], tz: ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerows([cell(value, tz) for value in row] for row in rows)
    return out.getvalue().encode()


async def csv_stream(batches: AsyncIterator[list[asyncpg.Record]], tz: str) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (so Excel reads the accents), the header, then one chunk per batch of rows."""
    local = ZoneInfo(tz)
    yield "\ufeff".encode() + lines([HEADER], local)
    async for rows in batches:
        yield lines((row.values() for row in rows), local)

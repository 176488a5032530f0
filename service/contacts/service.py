"""Contact rules: validation into columns, duplicate detection, all-or-nothing bulk writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from service.contacts import repository
from service.contacts.normalize import FieldError, describe_validation_error, to_columns
from service.contacts.schemas import BulkBody, BulkItems, ContactIn, ContactOut, ImportReport, Rejection
from service.web.errors import ApiError, NotFound

# A report lists this many rows at most (a 50 MB file of bad rows would otherwise answer with megabytes).
MAX_REPORTED = 1000

_decode_contact = msgspec.json.Decoder(ContactIn).decode
# Decoded here, not by Litestar: its decode-then-convert path cannot keep items raw.
_decode_bulk = msgspec.json.Decoder(BulkBody).decode
encode = msgspec.json.Encoder().encode


def field_error(exc: FieldError) -> ApiError:
    return ApiError(
        f"Invalid {exc.field}: {exc.message}",
        code="validation_error",
        details=[{"field": exc.field, "message": exc.message}],
    )


def columns_or_400(data: ContactIn, region: str, *, replace: bool) -> dict[str, Any]:
    try:
        return to_columns(data, region, replace=replace)
    except FieldError as exc:
        raise field_error(exc) from None


def decode_bulk(body: bytes) -> BulkItems:
    try:
        decoded = _decode_bulk(body)
    except msgspec.ValidationError as exc:
        raise field_error(describe_validation_error(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError(f"The body is not JSON: {exc}", code="validation_error") from None
    return decoded if isinstance(decoded, list) else decoded.contacts


def contact_out(row: asyncpg.Record | None) -> ContactOut:
    if row is None:
        raise NotFound("Contact not found")
    return ContactOut(*row)


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
    except FieldError as exc:
        return Rejection(index, str(exc))


class BulkWriter:
    """One owner's bulk write inside a transaction: batches of validated rows go in by COPY, minus duplicates.

    A duplicate shares a phone or an e-mail with a live contact of the owner or with an earlier row of the same
    write; it is skipped and counted, never doubled. Rejected rows make the whole write fail unless `partial`.
    """

    def __init__(self, connection: asyncpg.Connection, owner: uuid.UUID, *, partial: bool) -> None:
        self.connection = connection
        self.owner = owner
        self.partial = partial
        self.seen_phones: set[str] = set()
        self.seen_emails: set[str] = set()
        self.inserted = 0
        self.duplicates = 0
        self.rejected: list[Rejection] = []
        self.rejected_count = 0

    async def start(self) -> None:
        await repository.lock_owner_imports(self.connection, self.owner)

    async def write(self, batch: Iterable[Validated]) -> None:
        rows: list[dict[str, Any]] = []
        for item in batch:
            if isinstance(item, Rejection):
                self.reject(item)
            else:
                rows.append(item[1])
        if self.rejected_count and not self.partial:
            return  # the write will fail: keep validating for the report, skip the database work
        phones, emails = await repository.existing_keys(
            self.connection,
            self.owner,
            [r["phone"] for r in rows if r["phone"]],
            [r["email"] for r in rows if r["email"]],
        )
        self.seen_phones |= phones
        self.seen_emails |= emails
        self.inserted += await repository.copy_in(self.connection, self.owner, [r for r in rows if self.is_new(r)])

    def reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append(rejection)

    def is_new(self, row: dict[str, Any]) -> bool:
        phone, email = row["phone"], row["email"]
        if (phone and phone in self.seen_phones) or (email and email in self.seen_emails):
            self.duplicates += 1
            return False
        if phone:
            self.seen_phones.add(phone)
        if email:
            self.seen_emails.add(email)
        return True

    def report(self) -> ImportReport:
        """The report, or (all-or-nothing and some row rejected) a 400 that rolls the transaction back."""
        if self.rejected_count and not self.partial:
            raise ApiError(
                f"{self.rejected_count} contact(s) rejected; nothing was written (send ?partial=true to keep the rest)",
                code="rejected_rows",
                details=[msgspec.structs.asdict(r) for r in self.rejected],
            )
        return ImportReport(self.inserted, self.duplicates, self.rejected, self.rejected_count)


@asynccontextmanager
async def bulk_writer(pool: asyncpg.Pool, owner: uuid.UUID, *, partial: bool) -> AsyncIterator[BulkWriter]:
    """A writer in its own transaction: an exception (including report()'s 400) rolls every batch back."""
    async with pool.acquire() as connection, connection.transaction():
        writer = BulkWriter(connection, owner, partial=partial)
        await writer.start()
        yield writer

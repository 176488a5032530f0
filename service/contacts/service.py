"""Contact rules: validation into columns, duplicate detection, all-or-nothing bulk writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, closing
from typing import IO, Any

import anyio
import asyncpg
import msgspec

from service.contacts import repository
from service.contacts.csv_import import CsvError, read_batches
from service.contacts.normalize import InvalidField, Validated, describe_validation_error, to_columns, validate_row
from service.contacts.schemas import BulkBody, BulkItems, ContactIn, ContactOut, ContactQuery, ImportReport, Rejection
from service.errors import FieldError, NotFound, ValidationFailed
from service.web.decoding import decode_json

# A report lists this many rows at most (a 50 MB file of bad rows would otherwise answer with megabytes).
MAX_REPORTED = 1000

# Decoded here, not by Litestar: its decode-then-convert path cannot keep items raw.
_decode_bulk = msgspec.json.Decoder(BulkBody).decode


def invalid(exc: InvalidField) -> ValidationFailed:
    return ValidationFailed.field(exc.field, exc.message)


def contact_out(row: asyncpg.Record | None) -> ContactOut:
    if row is None:
        raise NotFound("Contact")
    return ContactOut(*row)


class ContactsService:
    """One owner's contacts: every method takes the caller's id and reaches only their rows."""

    def __init__(self, pool: asyncpg.Pool, region: str) -> None:
        self.pool = pool
        self.region = region  # phone numbers without a country code are read in it

    def columns(self, data: ContactIn, *, replace: bool) -> dict[str, Any]:
        try:
            return to_columns(data, self.region, replace=replace)
        except InvalidField as exc:
            raise invalid(exc) from None

    async def page(self, owner: uuid.UUID, query: ContactQuery) -> list[asyncpg.Record]:
        """Up to limit + 1 rows, newest first. A campaign filter must name one of the owner's campaigns."""
        if query.campaign_id is not None and not await repository.owns_campaign(self.pool, owner, query.campaign_id):
            raise NotFound("Campaign")
        where = repository.ListFilter(
            status=query.status, tag=query.tag, campaign_id=query.campaign_id, search=query.search, after=query.after
        )
        return await repository.list_page(self.pool, owner, where, query.limit)

    async def get(self, owner: uuid.UUID, contact_id: uuid.UUID) -> ContactOut:
        return contact_out(await repository.get(self.pool, owner, contact_id))

    async def create(self, owner: uuid.UUID, data: ContactIn) -> ContactOut:
        """Never refuses a duplicate: one contact may be entered twice on purpose (bulk and import report them)."""
        return ContactOut(*await repository.insert(self.pool, owner, self.columns(data, replace=True)))

    async def update(self, owner: uuid.UUID, contact_id: uuid.UUID, data: ContactIn) -> ContactOut:
        columns = self.columns(data, replace=False)
        return contact_out(await repository.update(self.pool, owner, contact_id, columns))

    async def delete(self, owner: uuid.UUID, contact_id: uuid.UUID) -> None:
        if not await repository.soft_delete(self.pool, owner, contact_id):
            raise NotFound("Contact")

    async def bulk(self, owner: uuid.UUID, body: bytes, *, partial: bool) -> ImportReport:
        """Up to 10,000 contacts in one COPY; all or nothing unless `partial`."""
        data = decode_bulk(body)
        region = self.region
        # Validation (phone parsing above all) is CPU work: off the event loop, other requests keep flowing.
        batch = await anyio.to_thread.run_sync(lambda: [validate_row(i, raw, region) for i, raw in enumerate(data)])
        async with self.writer(owner, partial=partial) as writer:
            await writer.write(batch)
            return writer.report()

    async def import_csv(self, owner: uuid.UUID, file: IO[bytes], *, partial: bool) -> ImportReport:
        """A CSV file, read and written batch by batch, in one transaction."""
        # Closed here, while the file is still open: left to the garbage collector, the suspended reader
        # would detach from a file the route has closed already ("Exception ignored in generator").
        with closing(read_batches(file, self.region)) as batches:
            async with self.writer(owner, partial=partial) as writer:
                while (batch := await anyio.to_thread.run_sync(next_batch, batches)) is not None:
                    await writer.write(batch)
                return writer.report()

    @asynccontextmanager
    async def writer(self, owner: uuid.UUID, *, partial: bool) -> AsyncIterator[BulkWriter]:
        """A writer in its own transaction: an exception (including report()'s 400) rolls every batch back."""
        async with self.pool.acquire() as connection, connection.transaction():
            writer = BulkWriter(connection, owner, partial=partial)
            await writer.start()
            yield writer


def decode_bulk(body: bytes) -> BulkItems:
    try:
        decoded = decode_json(body, _decode_bulk)
    except msgspec.ValidationError as exc:
        raise invalid(describe_validation_error(exc)) from None
    return decoded if isinstance(decoded, list) else decoded.contacts


def next_batch(batches: Iterator[list[Validated]]) -> list[Validated] | None:
    try:
        return next(batches)
    except StopIteration:
        return None
    except CsvError as exc:
        raise ValidationFailed.field("file", str(exc), message=str(exc), code="invalid_csv") from None


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
            raise ValidationFailed(
                f"{self.rejected_count} contact(s) rejected; nothing was written (send ?partial=true to keep the rest)",
                [FieldError(f"rows[{r.index}]", r.reason) for r in self.rejected],
                code="rejected_rows",
            )
        return ImportReport(self.inserted, self.duplicates, self.rejected, self.rejected_count)

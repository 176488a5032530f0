"""The dialer's settings as users and administrators see them: a campaign's dialing rules, the account's
do-not-call list, the Twilio account's pacing."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from datetime import time
from typing import IO, Any

import asyncpg
import phonenumbers
from msgspec import UNSET

from service.campaigns.service import CampaignsService
from service.config import Settings
from service.contacts.csv_import import PHONE_HEADERS as CONTACT_PHONE_HEADERS
from service.contacts.csv_import import csv_reader, csv_text, header_key
from service.dialer import repository
from service.dialer.schemas import (
    DoNotCallImport,
    DoNotCallIn,
    DoNotCallOut,
    PacingIn,
    PacingOut,
    RulesIn,
    RulesOut,
)
from service.errors import FieldError, NotFound, ValidationFailed
from service.phones import e164, parse_phone

DEFAULT_RULES = {
    "calling_start": time(8, 0),
    "calling_end": time(21, 0),
    "calling_days": [1, 2, 3, 4, 5, 6, 7],
    "retry_delay_seconds": 3600,
    "max_attempts": 3,
    "machine_detection": False,
    "voicemail_action": "hangup",
    "voicemail_message": None,
}
# The contact import's names for a phone column, and "number", which a list of numbers is often headed.
PHONE_HEADERS = CONTACT_PHONE_HEADERS | {"number"}
MAX_IMPORT_ROWS = 100_000
MAX_REJECTED_LISTED = 1000


def rules_out(values: Any) -> RulesOut:
    return RulesOut(
        calling_start=values["calling_start"].strftime("%H:%M"),
        calling_end=values["calling_end"].strftime("%H:%M"),
        calling_days=sorted(values["calling_days"]),
        retry_delay_minutes=values["retry_delay_seconds"] // 60,
        max_attempts=values["max_attempts"],
        machine_detection=values["machine_detection"],
        voicemail_action=values["voicemail_action"],
        voicemail_message=values["voicemail_message"],
    )


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}: {message}", [FieldError(field, message)])


class DialerService:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, campaigns: CampaignsService) -> None:
        self.pool = pool
        self.settings = settings
        self.campaigns = campaigns

    def phone(self, raw: str, field: str = "phoneNumber") -> str:
        number = parse_phone(raw, self.settings.default_phone_region)
        if number is None or not phonenumbers.is_possible_number(number):
            raise invalid(field, f"{raw!r} is not a complete phone number")
        return e164(number)

    # -- a campaign's rules ----------------------------------------------------------------------------------
    async def rules(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> RulesOut:
        await self.campaigns.require(owner, campaign_id)
        return rules_out(await repository.rules(self.pool, campaign_id) or DEFAULT_RULES)

    async def save_rules(self, owner: uuid.UUID, campaign_id: uuid.UUID, data: RulesIn) -> RulesOut:
        values: dict[str, Any] = {}
        for field in ("calling_start", "calling_end"):
            if (raw := getattr(data, field)) is not UNSET:
                values[field] = time.fromisoformat(raw)
        if data.calling_days is not UNSET:
            values["calling_days"] = sorted(set(data.calling_days))
        if data.retry_delay_minutes is not UNSET:
            values["retry_delay_seconds"] = data.retry_delay_minutes * 60
        for field in ("max_attempts", "machine_detection", "voicemail_action", "voicemail_message"):
            if (value := getattr(data, field)) is not UNSET:
                values[field] = value
        await self.campaigns.require(owner, campaign_id)
        async with self.pool.acquire() as connection, connection.transaction():
            current = await repository.rules(connection, campaign_id)
            merged = {**(dict(current) if current else DEFAULT_RULES), **values}
            # Judged on the result, so a PUT of one side of the window is checked against the other.
            if merged["calling_start"] >= merged["calling_end"]:
                raise invalid("callingEnd", "must be after callingStart")
            if merged["voicemail_action"] == "message" and not (merged["voicemail_message"] or "").strip():
                raise invalid("voicemailMessage", "is required when voicemailAction is 'message'")
            await repository.save_rules(connection, campaign_id, values)
            return rules_out(merged)

    # -- pacing (one Twilio account for the whole service: administrators) -----------------------------------
    @property
    def account(self) -> str:
        return self.settings.twilio_account_sid or "unconfigured"

    async def pacing(self) -> PacingOut:
        row = await repository.pacing(self.pool, self.account)
        if row is None:
            return PacingOut(account_sid=self.account, calls_per_second=1.0, max_concurrent=10, backoff_until=None)
        return PacingOut(account_sid=self.account, **row)

    async def save_pacing(self, data: PacingIn) -> PacingOut:
        async with self.pool.acquire() as connection, connection.transaction():
            await repository.save_pacing(connection, self.account, data.calls_per_second, data.max_concurrent)
        return await self.pacing()

    # -- the do-not-call list ------------------------------------------------------------------------------
    async def do_not_call(self, owner: uuid.UUID, after: str | None, limit: int) -> list[DoNotCallOut]:
        rows = await repository.dnc_page(self.pool, owner, after, limit)
        return [DoNotCallOut(phone_number=r["phone"], reason=r["reason"], created_at=r["created_at"]) for r in rows]

    async def add_do_not_call(self, owner: uuid.UUID, data: DoNotCallIn) -> tuple[DoNotCallOut, bool]:
        """The entry, and whether it is new (a number already listed keeps its first reason)."""
        phone = self.phone(data.phone_number)
        async with self.pool.acquire() as connection, connection.transaction():
            added = await repository.dnc_add(connection, owner, [phone], data.reason)
            row = await repository.dnc_get(connection, owner, phone)
        return DoNotCallOut(phone_number=row["phone"], reason=row["reason"], created_at=row["created_at"]), bool(added)

    async def remove_do_not_call(self, owner: uuid.UUID, raw: str) -> str:
        phone = self.phone(raw)
        async with self.pool.acquire() as connection, connection.transaction():
            if not await repository.dnc_remove(connection, owner, phone):
                raise NotFound("Do-not-call number")
        return phone

    async def import_do_not_call(self, owner: uuid.UUID, file: IO[bytes], reason: str | None) -> DoNotCallImport:
        """Numbers from a CSV: a column headed phone/number/mobile/..., or the first column of a file without
        such a header. Invalid rows are reported and skipped; the valid ones are added in one transaction."""
        text = csv_text(file)
        try:
            phones, rejected, rejected_count = self._numbers(csv_reader(text))
        except (csv.Error, UnicodeError) as exc:
            raise invalid("file", f"not a readable CSV file: {exc}") from None
        finally:
            text.detach()
        if not phones:  # nothing to add: say so rather than answer "0 added" to a wrong file
            found = f"; {rejected_count} rows are not complete phone numbers" if rejected_count else ""
            raise invalid("file", f"the file holds no phone numbers{found}")
        unique = list(dict.fromkeys(phones))
        async with self.pool.acquire() as connection, connection.transaction():
            added = await repository.dnc_add(connection, owner, unique, reason)
        return DoNotCallImport(
            added=added, duplicates=len(phones) - added, rejected=rejected, rejected_count=rejected_count
        )

    def _numbers(self, rows: Iterator[list[str]]) -> tuple[list[str], list[dict[str, object]], int]:
        """(valid numbers in E.164, the first rejected rows, how many were rejected)."""
        header = next(rows, None)
        if header is None:
            raise invalid("file", "the file is empty")
        column = next((i for i, cell in enumerate(header) if header_key(cell) in PHONE_HEADERS), None)
        numbered = enumerate(rows) if column is not None else enumerate([header, *rows])
        column = column or 0
        phones: list[str] = []
        rejected: list[dict[str, object]] = []
        rejected_count = 0
        for index, row in numbered:
            if index >= MAX_IMPORT_ROWS:
                raise invalid("file", f"at most {MAX_IMPORT_ROWS} rows at once")
            raw = row[column].strip() if column < len(row) else ""
            if not raw:
                continue
            try:
                phones.append(self.phone(raw))
            except ValidationFailed:
                rejected_count += 1
                if len(rejected) < MAX_REJECTED_LISTED:
                    rejected.append({"index": index, "reason": f"{raw!r} is not a complete phone number"})
        return phones, rejected, rejected_count

"""Campaign rules: the status machine, membership limited to the owner's contacts, stats on read.

Every write runs in one transaction that first locks the campaign row, so a start cannot interleave with a
membership change or another transition, and a refused request leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal, Protocol

import asyncpg
import msgspec
from msgspec import UNSET

from service.campaigns import repository
from service.campaigns.schemas import CampaignIn, CampaignOut, ProgressOut
from service.errors import Conflict, FieldError, NotFound, ValidationFailed
from service.web.decoding import parse_instant
from service.web.pagination import Keyset

# draft -> active <-> paused -> completed; an active campaign may also complete directly (everyone was called).
TRANSITIONS = {
    ("draft", "active"),
    ("active", "paused"),
    ("paused", "active"),
    ("active", "completed"),
    ("paused", "completed"),
}


class CampaignRunner(Protocol):
    """What calls a running campaign's contacts (the dialer, service/dialer/scheduling.py). It is handed in, so
    this feature never imports the dialer: told of each change in the transaction that makes it, asked for progress."""

    async def status_changed(self, connection: asyncpg.Connection, campaign_id: uuid.UUID, status: str) -> None: ...

    async def members_changed(self, connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None: ...

    async def progress(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> ProgressOut: ...


def campaign_out(row: asyncpg.Record | None) -> CampaignOut:
    if row is None:
        raise NotFound("Campaign")
    calls, appointments = row["calls_made"], row["appointments_set"]
    rate = round(100 * appointments / calls, 2) if calls else 0.0
    return CampaignOut(**row, conversion_rate=rate)


def parse_date(field: str, raw: str | None) -> datetime | None:
    """ISO 8601 with or without time; no zone means UTC."""
    if raw is None or not raw.strip():
        return None
    return parse_instant(raw, field)


def to_columns(data: CampaignIn, *, creating: bool) -> dict[str, Any]:
    """Column values of the fields sent (status and contactIds are handled by the rules, not copied)."""
    given = {f: v for f in repository.WRITABLE if (v := getattr(data, f)) is not UNSET}
    if "name" in given and not given["name"].strip():
        raise ValidationFailed.field("name", "must not be empty")
    if creating and "name" not in given:
        raise ValidationFailed.field("name", "is required")
    if given.get("translation_enabled", False) is None:
        given["translation_enabled"] = False
    for field, wire in (("start_date", "startDate"), ("end_date", "endDate")):
        if field in given:
            given[field] = parse_date(wire, given[field])
    return given


def check_dates(row: asyncpg.Record) -> None:
    if row["start_date"] and row["end_date"] and row["end_date"] < row["start_date"]:
        raise ValidationFailed.field("endDate", "is before startDate")


@asynccontextmanager
async def locked(
    pool: asyncpg.Pool, owner: uuid.UUID, campaign_id: uuid.UUID
) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A transaction holding the caller's campaign row; its current status. 404 when it is not the caller's."""
    async with pool.acquire() as connection, connection.transaction():
        status = await repository.lock(connection, owner, campaign_id)
        if status is None:
            raise NotFound("Campaign")
        yield connection, status


async def owned_contacts(connection: asyncpg.Connection, owner: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The ids, deduplicated, when all are live contacts of the owner; otherwise 404 and nothing is linked."""
    ids = list(dict.fromkeys(ids))
    unknown = await repository.foreign_contacts(connection, owner, ids)
    if unknown:
        raise NotFound(
            f"{len(unknown)} contact(s)", [FieldError("contactIds", f"contact {i} not found") for i in unknown]
        )
    return ids


async def transition(
    connection: asyncpg.Connection, runner: CampaignRunner, campaign_id: uuid.UUID, current: str, target: str
) -> None:
    """Move the status, or 409 saying why not."""
    if (current, target) not in TRANSITIONS:
        if current == target:
            raise Conflict(f"The campaign is already {current}", code="invalid_transition")
        raise Conflict(f"A {current} campaign cannot become {target}", code="invalid_transition")
    if target == "active":
        row = await connection.fetchrow("SELECT script FROM campaigns WHERE id = $1", campaign_id)
        if not (row["script"] or "").strip():
            raise Conflict(
                "The campaign needs a script before it can start: send `script`, or save it as a draft first",
                code="script_required",
            )
        if not await repository.live_contact_count(connection, campaign_id):
            raise Conflict(
                "The campaign needs at least one contact before it can start: send `contactIds`, or save it as a"
                " draft first",
                code="contacts_required",
            )
    await repository.set_status(connection, campaign_id, target)
    # Starting schedules the contacts' calls, completing cancels what is left: in this same transaction.
    await runner.status_changed(connection, campaign_id, target)


async def read_checked(connection: asyncpg.Connection, owner: uuid.UUID, campaign_id: uuid.UUID) -> CampaignOut:
    """The campaign as written, after the checks that span fields (raising rolls the write back)."""
    row = await repository.get(connection, owner, campaign_id)
    assert row is not None
    check_dates(row)
    return campaign_out(row)


def ensure_open(status: str) -> None:
    if status == "completed":
        raise Conflict("A completed campaign's contacts cannot change", code="campaign_completed")


class CampaignsService:
    """One owner's campaigns: every method takes the caller's id and reaches only their rows."""

    def __init__(self, pool: asyncpg.Pool, runner: CampaignRunner) -> None:
        self.pool = pool
        self.runner = runner

    async def page(
        self, owner: uuid.UUID, *, status: str | None, after: Keyset | None, limit: int
    ) -> list[asyncpg.Record]:
        return await repository.list_page(self.pool, owner, status=status, after=after, limit=limit)

    async def get(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> CampaignOut:
        """With the dialer's live progress (lists leave it out: it costs a query per campaign)."""
        campaign = campaign_out(await repository.get(self.pool, owner, campaign_id))
        return msgspec.structs.replace(campaign, progress=await self.runner.progress(owner, campaign_id))

    async def require(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> None:
        """NotFound unless `campaign_id` is one of the owner's live campaigns (for other features' filters)."""
        if not await repository.exists(self.pool, owner, campaign_id):
            raise NotFound("Campaign")

    async def create(self, owner: uuid.UUID, data: CampaignIn) -> CampaignOut:
        columns = to_columns(data, creating=True)
        async with self.pool.acquire() as connection, connection.transaction():
            campaign_id = await repository.insert(connection, owner, columns)
            if data.contact_ids is not UNSET:
                ids = await owned_contacts(connection, owner, data.contact_ids)
                await repository.add_contacts(connection, campaign_id, ids)
            if data.status is not UNSET and data.status != "draft":
                await transition(connection, self.runner, campaign_id, "draft", data.status)
            return await read_checked(connection, owner, campaign_id)

    async def update(self, owner: uuid.UUID, campaign_id: uuid.UUID, data: CampaignIn) -> CampaignOut:
        columns = to_columns(data, creating=False)
        async with locked(self.pool, owner, campaign_id) as (connection, status):
            await repository.update(connection, owner, campaign_id, columns)
            if data.contact_ids is not UNSET:
                ids = await owned_contacts(connection, owner, data.contact_ids)
                # The SPA sends the whole campaign back: an unchanged list is fine even when completed.
                if await repository.replace_contacts(connection, campaign_id, ids):
                    ensure_open(status)
                    if status == "active":
                        await self.runner.members_changed(connection, campaign_id)
            if data.status is not UNSET and data.status != status:
                await transition(connection, self.runner, campaign_id, status, data.status)
            return await read_checked(connection, owner, campaign_id)

    async def change_status(self, owner: uuid.UUID, campaign_id: uuid.UUID, target: str) -> CampaignOut:
        async with locked(self.pool, owner, campaign_id) as (connection, status):
            await transition(connection, self.runner, campaign_id, status, target)
            return campaign_out(await repository.get(connection, owner, campaign_id))

    async def change_members(
        self, owner: uuid.UUID, campaign_id: uuid.UUID, ids: Sequence[uuid.UUID], *, add: bool
    ) -> CampaignOut:
        async with locked(self.pool, owner, campaign_id) as (connection, status):
            ensure_open(status)
            if add:
                await repository.add_contacts(connection, campaign_id, await owned_contacts(connection, owner, ids))
                if status == "active":  # new members of a running campaign are called too
                    await self.runner.members_changed(connection, campaign_id)
            else:
                # Removing needs no ownership check: only this campaign's own links can match.
                await repository.remove_contacts(connection, campaign_id, list(ids))
            return campaign_out(await repository.get(connection, owner, campaign_id))

    # -- for the runner, which acts for each campaign's owner (no owner filter: it holds the campaign's id) -----------
    async def running(self, connection: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
        """user_id, status, script and language, share-locked: a pause or completion waits for the runner's
        transaction, and its next one sees it."""
        return await repository.for_runner(connection, campaign_id)

    async def stop_running(
        self,
        connection: asyncpg.Connection,
        campaign_id: uuid.UUID,
        status: Literal["paused", "completed"],
        *,
        unless: Callable[[], Awaitable[bool]] | None = None,
    ) -> bool:
        """The runner's own transitions of an active campaign: out of credits (paused), everyone called
        (completed). `unless` is asked once the row is locked, so a member added meanwhile is seen."""
        if await repository.lock_any(connection, campaign_id) != "active" or (unless and await unless()):
            return False
        await repository.set_status(connection, campaign_id, status)
        return True

    async def delete(self, owner: uuid.UUID, campaign_id: uuid.UUID) -> None:
        """Soft delete; calls keep their campaign. An active campaign is paused or completed first."""
        async with locked(self.pool, owner, campaign_id) as (connection, status):
            if status == "active":
                raise Conflict("Pause or complete an active campaign before deleting it", code="campaign_active")
            await repository.soft_delete(connection, owner, campaign_id)


def encode_list(rows: Sequence[asyncpg.Record]) -> bytes:
    return msgspec.json.encode([campaign_out(row) for row in rows])

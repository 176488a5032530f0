"""Campaigns SQL on asyncpg. Every statement filters by the owner; deleted campaigns and contacts are not there."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from service.db.models.base import uuid7

Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection

WRITABLE = (
    "name",
    "description",
    "industry",
    "type",
    "script",
    "language",
    "translation_enabled",
    "response_language",
    "start_date",
    "end_date",
)
LIVE = "c.user_id = $1 AND c.deleted_at IS NULL"
# A call of the campaign that was placed: a dialer attempt claimed but not yet sent (queued, no sid) is not, and may
# never be. The campaign's callsMade and the dialer's progress count the same calls.
PLACED_SQL = "(twilio_sid IS NOT NULL OR status <> 'queued')"
# Campaign columns in CampaignOut's order, then the membership and the call counts, computed on read.
SELECT = f"""
SELECT c.id, c.user_id, c.name, c.description, c.industry, c.type, c.script, c.language, c.translation_enabled,
       c.response_language, c.start_date, c.end_date, c.status, c.created_at, c.updated_at,
       m.contact_ids, m.total_contacts, k.calls_made, k.appointments_set
FROM campaigns c
CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(cc.contact_id ORDER BY cc.added_at, cc.contact_id), '{{}}') AS contact_ids,
           count(*) AS total_contacts
    FROM campaign_contacts cc JOIN contacts ct ON ct.id = cc.contact_id AND ct.deleted_at IS NULL
    WHERE cc.campaign_id = c.id
) m
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE {PLACED_SQL}) AS calls_made,
           count(*) FILTER (WHERE outcome = 'appointment_set') AS appointments_set
    FROM calls WHERE campaign_id = c.id AND user_id = c.user_id
) k
"""  # noqa: S608


async def list_page(
    db: Executor, owner: uuid.UUID, *, status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first, up to limit + 1 rows (the extra one tells whether a next page exists)."""
    return await db.fetch(
        f"""{SELECT} WHERE {LIVE} AND ($2::text IS NULL OR c.status = $2)
            AND ($3::timestamptz IS NULL OR (c.created_at, c.id) < ($3, $4::uuid))
            ORDER BY c.created_at DESC, c.id DESC LIMIT $5""",
        owner,
        status,
        *(after or (None, None)),
        limit + 1,
    )


async def get(db: Executor, owner: uuid.UUID, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(f"{SELECT} WHERE {LIVE} AND c.id = $2", owner, campaign_id)


async def exists(db: Executor, owner: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    return bool(await db.fetchval(f"SELECT 1 FROM campaigns c WHERE {LIVE} AND c.id = $2", owner, campaign_id))  # noqa: S608


async def lock(connection: asyncpg.Connection, owner: uuid.UUID, campaign_id: uuid.UUID) -> str | None:
    """The status of the caller's campaign, locked until the transaction ends (transitions must not interleave)."""
    return await connection.fetchval(
        f"SELECT c.status FROM campaigns c WHERE {LIVE} AND c.id = $2 FOR UPDATE",  # noqa: S608
        owner,
        campaign_id,
    )


async def set_status(connection: asyncpg.Connection, campaign_id: uuid.UUID, status: str) -> None:
    await connection.execute("UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1", campaign_id, status)


# The dialer acts for each campaign's owner: it holds the campaign's id, taken from the owner's own request.
async def for_runner(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT id, user_id, status, script, language FROM campaigns WHERE id = $1 AND deleted_at IS NULL FOR SHARE",
        campaign_id,
    )


async def lock_any(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> str | None:
    return await connection.fetchval("SELECT status FROM campaigns WHERE id = $1 FOR UPDATE", campaign_id)


async def insert(connection: asyncpg.Connection, owner: uuid.UUID, columns: dict[str, Any]) -> uuid.UUID:
    campaign_id = uuid7()
    names = [name for name in WRITABLE if name in columns]
    placeholders = ", ".join(f"${i}" for i in range(3, len(names) + 3))
    await connection.execute(
        f"INSERT INTO campaigns (id, user_id, {', '.join(names)}) VALUES ($1, $2, {placeholders})",  # noqa: S608
        campaign_id,
        owner,
        *(columns[name] for name in names),
    )
    return campaign_id


async def update(
    connection: asyncpg.Connection, owner: uuid.UUID, campaign_id: uuid.UUID, columns: dict[str, Any]
) -> None:
    names = [name for name in (*WRITABLE, "status") if name in columns]
    if names:
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
        await connection.execute(
            f"UPDATE campaigns c SET {assignments}, updated_at = now() WHERE {LIVE} AND c.id = $2",  # noqa: S608
            owner,
            campaign_id,
            *(columns[name] for name in names),
        )


async def soft_delete(connection: asyncpg.Connection, owner: uuid.UUID, campaign_id: uuid.UUID) -> None:
    await connection.execute(
        f"UPDATE campaigns c SET deleted_at = now(), updated_at = now() WHERE {LIVE} AND c.id = $2",  # noqa: S608
        owner,
        campaign_id,
    )


async def live_contact_count(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> int:
    return await connection.fetchval(
        """SELECT count(*) FROM campaign_contacts cc JOIN contacts ct ON ct.id = cc.contact_id
           WHERE cc.campaign_id = $1 AND ct.deleted_at IS NULL""",
        campaign_id,
    )


async def foreign_contacts(
    connection: asyncpg.Connection, owner: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Which of these ids are not live contacts of the owner (someone else's, deleted, or made up)."""
    rows = await connection.fetch(
        """SELECT i FROM unnest($2::uuid[]) AS i
           WHERE NOT EXISTS (SELECT 1 FROM contacts WHERE id = i AND user_id = $1 AND deleted_at IS NULL)""",
        owner,
        ids,
    )
    return [row["i"] for row in rows]


def affected(status: str) -> int:
    """Row count of an asyncpg command status ("INSERT 0 3", "DELETE 2")."""
    return int(status.rsplit(" ", 1)[-1])


async def add_contacts(connection: asyncpg.Connection, campaign_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> int:
    return affected(
        await connection.execute(
            """INSERT INTO campaign_contacts (campaign_id, contact_id) SELECT $1, unnest($2::uuid[])
               ON CONFLICT DO NOTHING""",
            campaign_id,
            ids,
        )
    )


async def remove_contacts(connection: asyncpg.Connection, campaign_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> int:
    return affected(
        await connection.execute(
            "DELETE FROM campaign_contacts WHERE campaign_id = $1 AND contact_id = ANY($2::uuid[])", campaign_id, ids
        )
    )


async def replace_contacts(connection: asyncpg.Connection, campaign_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> int:
    """Make the membership exactly these ids; how many links came or went."""
    removed = affected(
        await connection.execute(
            "DELETE FROM campaign_contacts WHERE campaign_id = $1 AND contact_id <> ALL($2::uuid[])", campaign_id, ids
        )
    )
    return removed + await add_contacts(connection, campaign_id, ids)

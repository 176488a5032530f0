"""Contacts SQL on asyncpg. Every statement filters by the owner: another user's row is simply not there.

asyncpg prepares and caches each distinct statement text per connection, so the few filter combinations of
the list become prepared statements after their first use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from service.db.models.base import uuid7

# The order of ContactOut's fields.
COLUMNS = (
    "id, user_id, first_name, last_name, NULLIF(concat_ws(' ', first_name, last_name), '') AS full_name, "
    "email, phone, company, job_title, industry, notes, tags, source, status, timezone, created_at, updated_at"
)
WRITABLE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "industry",
    "notes",
    "tags",
    "source",
    "status",
    "timezone",
)
LIVE = "user_id = $1 AND deleted_at IS NULL"

GET = f"SELECT {COLUMNS} FROM contacts WHERE id = $2 AND {LIVE}"  # noqa: S608 - constants only
INSERT = (
    f"INSERT INTO contacts (id, user_id, {', '.join(WRITABLE)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(WRITABLE) + 3))}) RETURNING {COLUMNS}"
)
SOFT_DELETE = f"UPDATE contacts SET deleted_at = now(), updated_at = now() WHERE id = $2 AND {LIVE}"  # noqa: S608
# Search normalises the query with the function that builds the indexed column (lower, unaccent), so the
# trigram index answers `LIKE '%...%'` case- and accent-insensitively.
SEARCH = "search_text LIKE '%' || ri_search_text(${}::text) || '%'"


def escape_like(text: str) -> str:
    """The query's own % and _ match themselves, not anything."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ListFilter:
    """The optional conditions of a contact list, turned into SQL with numbered parameters after the owner's."""

    def __init__(
        self,
        *,
        status: str | None = None,
        tag: str | None = None,
        campaign_id: uuid.UUID | None = None,
        search: str | None = None,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> None:
        self.conditions = [LIVE]
        self.args: list[Any] = []
        if status is not None:
            self._add("status = ${}", status)
        if tag is not None:
            self._add("tags @> ARRAY[${}::text]", tag)
        if campaign_id is not None:
            self._add(
                "EXISTS (SELECT 1 FROM campaign_contacts m WHERE m.campaign_id = ${} AND m.contact_id = contacts.id)",
                campaign_id,
            )
        if search is not None:
            self._add(SEARCH, escape_like(search))
        if after is not None:
            self._add("(created_at, id) < (${}, ${})", *after)

    def _add(self, template: str, *values: Any) -> None:
        first = len(self.args) + 2  # $1 is the owner
        self.conditions.append(template.format(*range(first, first + len(values))))
        self.args.extend(values)

    def select(self, limit: int) -> str:
        return (
            f"SELECT {COLUMNS} FROM contacts WHERE {' AND '.join(self.conditions)} "  # noqa: S608 - no user text
            f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)}"
        )


async def list_page(pool: asyncpg.Pool, owner: uuid.UUID, where: ListFilter, limit: int) -> list[asyncpg.Record]:
    """Up to limit + 1 rows: the extra one only tells whether a next page exists."""
    return await pool.fetch(where.select(limit + 1), owner, *where.args)


async def owns_campaign(pool: asyncpg.Pool, owner: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    """Whether the campaign a list is filtered by is the owner's (asked here: contacts do not import campaigns)."""
    sql = "SELECT 1 FROM campaigns WHERE id = $2 AND user_id = $1 AND deleted_at IS NULL"
    return bool(await pool.fetchval(sql, owner, campaign_id))


async def get(pool: asyncpg.Pool, owner: uuid.UUID, contact_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(GET, owner, contact_id)


async def insert(pool: asyncpg.Pool, owner: uuid.UUID, columns: dict[str, Any]) -> asyncpg.Record:
    return await pool.fetchrow(INSERT, uuid7(), owner, *(columns[name] for name in WRITABLE))


async def update(
    pool: asyncpg.Pool, owner: uuid.UUID, contact_id: uuid.UUID, columns: dict[str, Any]
) -> asyncpg.Record | None:
    names = [name for name in WRITABLE if name in columns]
    if not names:
        return await get(pool, owner, contact_id)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    sql = f"UPDATE contacts SET {assignments}, updated_at = now() WHERE id = $2 AND {LIVE} RETURNING {COLUMNS}"  # noqa: S608
    return await pool.fetchrow(sql, owner, contact_id, *(columns[name] for name in names))


async def soft_delete(pool: asyncpg.Pool, owner: uuid.UUID, contact_id: uuid.UUID) -> bool:
    return await pool.execute(SOFT_DELETE, owner, contact_id) == "UPDATE 1"


async def lock_owner_imports(connection: asyncpg.Connection, owner: uuid.UUID) -> None:
    """Serialise one owner's bulk writes for the transaction, so two imports cannot both miss a duplicate."""
    await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0))", owner)


async def existing_keys(
    connection: asyncpg.Connection, owner: uuid.UUID, phones: Sequence[str], emails: Sequence[str]
) -> tuple[set[str], set[str]]:
    """Which of these phones and e-mails the owner's live contacts already use."""
    rows = await connection.fetch(
        f"SELECT phone, email FROM contacts WHERE {LIVE} AND (phone = ANY($2::text[]) OR email = ANY($3::text[]))",  # noqa: S608
        owner,
        phones,
        emails,
    )
    return {r["phone"] for r in rows if r["phone"]}, {r["email"] for r in rows if r["email"]}


async def copy_in(connection: asyncpg.Connection, owner: uuid.UUID, rows: Iterable[dict[str, Any]]) -> int:
    """One COPY for the whole batch: the fastest way in, and all or nothing with the enclosing transaction."""
    records = [(uuid7(), owner, *(row[name] for name in WRITABLE)) for row in rows]
    if records:
        await connection.copy_records_to_table("contacts", records=records, columns=["id", "user_id", *WRITABLE])
    return len(records)

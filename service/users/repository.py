"""SQL for users and their credits (asyncpg; rows become msgspec structs positionally).

The f-strings below only splice column lists made from the DTOs' field names (constants), never input.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from service.db.models.base import uuid7
from service.users.schemas import AdminUserOut, LedgerEntryOut, UserOut, columns

USER_COLUMNS = columns(UserOut)
ADMIN_USER_COLUMNS = columns(AdminUserOut)
LEDGER_COLUMNS = columns(LedgerEntryOut)

# One statement: the balance moves only if it stays >= 0, and the ledger row exists iff the balance moved.
# The CHECK constraints (credits >= 0, balance_after >= 0) back this up.
CHANGE_CREDITS = f"""
WITH moved AS (
    UPDATE users SET credits = credits + $2, updated_at = now()
    WHERE id = $1 AND credits + $2 >= 0
    RETURNING credits
)
INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, actor_id)
SELECT $3, $1, $2, moved.credits, $4, $5, $6 FROM moved
RETURNING {LEDGER_COLUMNS}
"""  # noqa: S608
SELECT_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"  # noqa: S608
RECORD_SIGN_IN = f"UPDATE users SET last_sign_in_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"  # noqa: S608
SET_DISABLED = f"UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1 RETURNING {ADMIN_USER_COLUMNS}"  # noqa: S608
CREDIT_HISTORY = f"""
SELECT {LEDGER_COLUMNS} FROM credit_ledger WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
"""  # noqa: S608
LIST_USERS = f"""
SELECT {ADMIN_USER_COLUMNS} FROM users
WHERE ($1::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM users WHERE id = $1))
  AND ($2::text IS NULL OR email ILIKE $2 OR full_name ILIKE $2)
ORDER BY created_at DESC, id DESC
LIMIT $3
"""  # noqa: S608


async def insert_user(
    connection: asyncpg.Connection,
    *,
    email: str,
    full_name: str,
    profile: dict[str, object],
    password_hash: str,
) -> uuid.UUID | None:
    """The new user's id, or None when the e-mail is taken. `profile` maps ProfileFields' columns to values."""
    names = ", ".join(profile)
    values = ", ".join(f"${index}" for index in range(6, 6 + len(profile)))
    user_id: uuid.UUID | None = await connection.fetchval(
        f"""
        INSERT INTO users (id, email, full_name, password_hash, auth_providers, password_changed_at
                           {", " + names if profile else ""})
        VALUES ($1, $2, $3, $4, $5, now() {", " + values if profile else ""})
        ON CONFLICT (email) DO NOTHING
        RETURNING id
        """,  # noqa: S608 - column names come from ProfileFields, never from the client
        uuid7(), email, full_name, password_hash, ["password"], *profile.values(),
    )  # fmt: skip
    return user_id


async def get_user(connection: asyncpg.Connection, user_id: uuid.UUID) -> UserOut | None:
    row = await connection.fetchrow(SELECT_USER, user_id)
    return UserOut(*row) if row else None


async def mark_email_verified(connection: asyncpg.Connection, user_id: uuid.UUID) -> str:
    """The user's e-mail, now marked verified."""
    email: str = await connection.fetchval(
        "UPDATE users SET email_verified = true WHERE id = $1 RETURNING email", user_id
    )
    return email


async def record_sign_in(connection: asyncpg.Connection, user_id: uuid.UUID) -> UserOut:
    row = await connection.fetchrow(RECORD_SIGN_IN, user_id)
    return UserOut(*row)


async def update_user(connection: asyncpg.Connection, user_id: uuid.UUID, changes: dict[str, object]) -> UserOut:
    """`changes` maps column names (ProfileUpdate's fields, never client-chosen identifiers) to values."""
    assignments = ", ".join(f"{column} = ${index}" for index, column in enumerate(changes, start=2))
    row = await connection.fetchrow(
        f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}",  # noqa: S608
        user_id,
        *changes.values(),
    )
    return UserOut(*row)


async def change_credits(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    delta: int,
    *,
    kind: str,
    reason: str | None,
    actor_id: uuid.UUID | None,
) -> LedgerEntryOut | None:
    """None when the user does not exist or the balance would go below zero."""
    row = await connection.fetchrow(CHANGE_CREDITS, user_id, delta, uuid7(), kind, reason, actor_id)
    return LedgerEntryOut(*row) if row else None


async def credits_of(connection: asyncpg.Connection, user_id: uuid.UUID) -> int | None:
    value: int | None = await connection.fetchval("SELECT credits FROM users WHERE id = $1", user_id)
    return value


async def credit_history(connection: asyncpg.Connection, user_id: uuid.UUID, limit: int) -> list[LedgerEntryOut]:
    rows = await connection.fetch(CREDIT_HISTORY, user_id, limit)
    return [LedgerEntryOut(*row) for row in rows]


async def list_users(
    connection: asyncpg.Connection, *, limit: int, after: uuid.UUID | None, search: str | None
) -> list[AdminUserOut]:
    """Newest first, paged by keyset on (created_at, id): `after` is the last id of the previous page."""
    pattern = None
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await connection.fetch(LIST_USERS, after, pattern, limit)
    return [AdminUserOut(*row) for row in rows]


async def set_disabled(connection: asyncpg.Connection, user_id: uuid.UUID, disabled: bool) -> AdminUserOut | None:
    row = await connection.fetchrow(SET_DISABLED, user_id, disabled)
    return AdminUserOut(*row) if row else None


async def merge_settings(connection: asyncpg.Connection, user_id: uuid.UUID, update: dict[str, Any]) -> dict[str, Any]:
    """Merge `update` (the wire shape) into the stored settings, one level deep (`notifications` keeps keys
    not sent), under a row lock so two saves cannot lose each other's keys."""
    async with connection.transaction():
        stored: dict[str, Any] = await connection.fetchval(
            "SELECT settings FROM users WHERE id = $1 FOR UPDATE", user_id
        )
        for key, value in update.items():
            stored[key] = {**stored.get(key, {}), **value} if isinstance(value, dict) else value
        await connection.execute("UPDATE users SET settings = $2, updated_at = now() WHERE id = $1", user_id, stored)
    return stored


async def settings_of(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    settings: dict[str, Any] = await connection.fetchval("SELECT settings FROM users WHERE id = $1", user_id)
    return settings

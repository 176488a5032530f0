"""Credit reservations in SQL: each statement moves the balance, the reservation and the ledger together.

The balance check is inside the UPDATE (`credits >= amount`), which PostgreSQL re-evaluates on the locked row,
so concurrent reservations can never take the balance below zero; the CHECK constraints back this up.
"""

from __future__ import annotations

import uuid

import asyncpg

from service.db.models.base import uuid7

# Reserves `amount` once per id in $3 (one reservation and one ledger entry each, in order), all or none.
RESERVE = """
WITH moved AS (
    UPDATE users SET credits = credits - $2 * cardinality($3::uuid[]), updated_at = now()
    WHERE id = $1 AND credits >= $2 * cardinality($3::uuid[])
    RETURNING credits + $2 * cardinality($3::uuid[]) AS before, credits
), wanted AS (
    SELECT id, ledger_id, position FROM unnest($3::uuid[], $5::uuid[]) WITH ORDINALITY AS w(id, ledger_id, position)
), held AS (
    INSERT INTO credit_reservations (id, user_id, amount, purpose) SELECT wanted.id, $1, $2, $4 FROM moved, wanted
), ledger AS (
    INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, details)
    SELECT wanted.ledger_id, $1, -$2::bigint, moved.before - $2 * wanted.position, 'debit', $4,
           jsonb_build_object('reservationId', wanted.id)
    FROM moved, wanted WHERE $2 > 0
)
SELECT credits FROM moved
"""
CHARGE = """
UPDATE credit_reservations SET status = 'charged', settled_at = now() WHERE id = $1 AND status = 'reserved'
"""
REFUND = """
WITH settled AS (
    UPDATE credit_reservations SET status = 'refunded', settled_at = now()
    WHERE id = $1 AND status = 'reserved'
    RETURNING user_id, amount, purpose
), moved AS (
    UPDATE users SET credits = users.credits + settled.amount, updated_at = now()
    FROM settled WHERE users.id = settled.user_id AND settled.amount > 0
    RETURNING users.credits
), ledger AS (
    INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, details)
    SELECT $2, settled.user_id, settled.amount, moved.credits, 'refund', settled.purpose,
           jsonb_build_object('reservationId', $1::uuid)
    FROM settled, moved
)
SELECT count(*) FROM settled
"""


async def reserve(
    connection: asyncpg.Connection, user_id: uuid.UUID, amount: int, purpose: str, count: int = 1
) -> list[uuid.UUID] | None:
    """`count` reservations of `amount` in one statement: their ids, or None when the balance is too small for
    all of them (or the user is gone), and nothing is taken."""
    ids, ledger_ids = [uuid7() for _ in range(count)], [uuid7() for _ in range(count)]
    balance = await connection.fetchval(RESERVE, user_id, amount, ids, purpose, ledger_ids)
    return None if balance is None else ids


async def balance(connection: asyncpg.Connection, user_id: uuid.UUID) -> int:
    value = await connection.fetchval("SELECT credits FROM users WHERE id = $1", user_id)
    return int(value or 0)


async def charge(connection: asyncpg.Connection, reservation_id: uuid.UUID) -> bool:
    """True when this call settled it; False when it was already charged or refunded."""
    return bool(await connection.execute(CHARGE, reservation_id) == "UPDATE 1")


async def refund(connection: asyncpg.Connection, reservation_id: uuid.UUID) -> bool:
    """True when this call gave the credits back; False when it was already settled (or held nothing)."""
    return bool(await connection.fetchval(REFUND, reservation_id, uuid7()))


async def status(connection: asyncpg.Connection, reservation_id: uuid.UUID) -> str | None:
    """'reserved', 'charged' or 'refunded'; None for an unknown id."""
    value = await connection.fetchval("SELECT status FROM credit_reservations WHERE id = $1", reservation_id)
    return None if value is None else str(value)

"""Credit reservations: atomic under concurrency, settled once, one ledger row per balance change."""

from __future__ import annotations

import asyncio

import pytest

from service.credits.service import CreditsService
from service.db.pool import connect
from service.errors import InsufficientCredits

credits = CreditsService()


async def test_concurrent_reservations_never_take_the_balance_below_zero(database_url, db, make_user):
    user = await make_user(credits=25)
    connections = [await connect(database_url) for _ in range(8)]

    async def attempt(connection):
        try:
            async with connection.transaction():
                return await credits.reserve(connection, user.id, 10, "call")
        except InsufficientCredits:
            return None

    try:
        results = await asyncio.gather(*(attempt(c) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    assert sum(r is not None for r in results) == 2
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 5
    rows = await db.fetch("SELECT delta, balance_after, kind FROM credit_ledger ORDER BY balance_after DESC")
    assert [tuple(r) for r in rows] == [(-10, 15, "debit"), (-10, 5, "debit")]


async def test_settling_happens_once(db, make_user):
    user = await make_user(credits=10)
    async with db.transaction():
        first = await credits.reserve(db, user.id, 4, "sms")
        second = await credits.reserve(db, user.id, 4, "sms")
    assert await credits.refund(db, first) is True
    assert await credits.refund(db, first) is False
    assert await credits.charge(db, first) is False
    assert await credits.charge(db, second) is True
    assert await credits.refund(db, second) is False
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 6
    kinds = await db.fetch("SELECT kind, delta FROM credit_ledger ORDER BY created_at, kind")
    assert sorted(tuple(r) for r in kinds) == [("debit", -4), ("debit", -4), ("refund", 4)]


async def test_too_little_is_refused_and_takes_nothing(db, make_user):
    user = await make_user(credits=3)
    with pytest.raises(InsufficientCredits) as refused:
        await credits.reserve(db, user.id, 4, "call")
    assert (refused.value.needed, refused.value.balance) == (4, 3)
    assert await db.fetchval("SELECT count(*) FROM credit_ledger") == 0
    assert await db.fetchval("SELECT count(*) FROM credit_reservations") == 0


async def test_a_reservation_is_held_until_it_is_settled(db, make_user):
    user = await make_user(credits=5)
    reservation = await credits.reserve(db, user.id, 2, "sms")
    assert await credits.is_held(db, reservation) is True
    await credits.charge(db, reservation)
    assert await credits.is_held(db, reservation) is False
    assert await credits.is_held(db, None) is False


async def test_a_batch_of_reservations_is_all_or_none_with_one_ledger_row_each_in_order(db, make_user):
    user = await make_user(credits=35)
    with pytest.raises(InsufficientCredits) as refused:
        await credits.reserve_many(db, user.id, 10, "call", 4)
    assert (refused.value.needed, refused.value.balance) == (40, 35)
    assert await db.fetchval("SELECT count(*) FROM credit_reservations") == 0

    reservations = await credits.reserve_many(db, user.id, 10, "call", 3)

    assert len(set(reservations)) == 3
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 5
    held = await db.fetch("SELECT id, amount, status FROM credit_reservations")
    assert {(r["id"], r["amount"], r["status"]) for r in held} == {(r, 10, "reserved") for r in reservations}
    ledger = await db.fetch("SELECT delta, balance_after, details->>'reservationId' AS reservation FROM credit_ledger")
    assert sorted((r["balance_after"], r["delta"], r["reservation"]) for r in ledger) == [
        (5, -10, str(reservations[2])),
        (15, -10, str(reservations[1])),
        (25, -10, str(reservations[0])),
    ]
    assert await credits.refund(db, reservations[1]) is True
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 15

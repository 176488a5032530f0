"""Credits: a ledger row for every change, never below zero, even under parallel debits; only admins grant."""

from __future__ import annotations

import asyncio

import pytest


async def spend(client, user, amount: int, reason: str | None = None):
    return await client.post("/api/user/credits", json={"amount": -amount, "reason": reason}, headers=user.headers)


async def test_the_balance_and_its_history(client, make_user):
    user = await make_user(credits=50)
    assert (await spend(client, user, 20, "a call")).status_code == 200
    response = await client.get("/api/user/credits", headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["credits"] == 30
    assert [(e["delta"], e["balanceAfter"], e["kind"], e["reason"]) for e in body["history"]] == [
        (-20, 30, "debit", "a call")
    ]
    assert body["history"][0]["actorId"] == str(user.id)


async def test_a_debit_beyond_the_balance_is_402_and_writes_nothing(client, make_user, db):
    user = await make_user(credits=5)
    response = await spend(client, user, 6)
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_credits"
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 5
    assert await db.fetchval("SELECT count(*) FROM credit_ledger") == 0


async def test_parallel_debits_never_overdraw(client, make_user, db):
    user = await make_user(credits=100)
    answers = await asyncio.gather(*(spend(client, user, 7) for _ in range(30)))
    codes = [response.status_code for response in answers]
    assert codes.count(200) == 100 // 7 and codes.count(402) == 30 - 100 // 7
    balance = await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id)
    assert balance == 100 % 7
    ledger = await db.fetch("SELECT delta, balance_after FROM credit_ledger ORDER BY balance_after DESC")
    assert sum(row["delta"] for row in ledger) == balance - 100
    assert [row["balance_after"] for row in ledger] == list(range(93, -1, -7))


async def test_customers_cannot_grant_themselves_credits(client, make_user, db):
    user = await make_user()
    response = await client.post("/api/user/credits", json={"amount": 1000}, headers=user.headers)
    assert response.status_code == 403
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id) == 0


async def test_admins_grant_credits_to_themselves_and_others(client, make_user, db):
    admin, customer = await make_user(role="admin"), await make_user()
    own = await client.post("/api/user/credits", json={"amount": 10}, headers=admin.headers)
    assert own.status_code == 200 and own.json()["credits"] == 10
    granted = await client.post(
        f"/api/admin/users/{customer.id}/credits", json={"amount": 25, "reason": "welcome"}, headers=admin.headers
    )
    assert granted.status_code == 200
    assert granted.json()["credits"] == 25
    assert granted.json()["entry"]["kind"] == "grant"
    taken_back = await client.post(
        f"/api/admin/users/{customer.id}/credits", json={"amount": -5}, headers=admin.headers
    )
    assert taken_back.json()["entry"]["kind"] == "adjustment"
    row = await db.fetchrow("SELECT kind, actor_id FROM credit_ledger WHERE user_id = $1 AND delta = 25", customer.id)
    assert (row["kind"], row["actor_id"]) == ("grant", admin.id)


@pytest.mark.parametrize("amount", [0, 10**7, -(10**7), 1.5, "ten", None])
async def test_bad_amounts_are_400(client, make_user, db, amount):
    user = await make_user(role="admin", credits=10)
    response = await client.post("/api/user/credits", json={"amount": amount}, headers=user.headers)
    assert response.status_code == 400
    assert "amount" in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM credit_ledger") == 0


async def test_granting_to_an_unknown_user_is_404(client, make_user):
    admin = await make_user(role="admin")
    response = await client.post(
        "/api/admin/users/00000000-0000-7000-8000-000000000000/credits", json={"amount": 5}, headers=admin.headers
    )
    assert response.status_code == 404

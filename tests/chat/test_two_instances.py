"""Sends through two real service processes on one database: limits, retries and event order are shared."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.chat.conftest import SEND_LIMIT


async def post(base: str, user, path: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return await http.post(path, json=body, headers=user.headers)


async def test_the_send_limit_is_one_budget_across_instances(two_services, db, make_user):
    a, b = two_services
    alice, bob = await make_user(), await make_user()
    path, body = "/api/chat/messages", {"content": "hi", "recipientId": str(bob.id)}

    answers = [await post((a, b)[i % 2], alice, path, body) for i in range(SEND_LIMIT + 2)]

    assert [r.status_code for r in answers] == [201] * SEND_LIMIT + [429, 429]
    assert answers[-1].json()["code"] == "rate_limited" and int(answers[-1].headers["retry-after"]) >= 1
    assert await db.fetchval("SELECT count(*) FROM chat_messages") == SEND_LIMIT
    assert (await post(b, bob, path, {"content": "hi", "recipientId": str(alice.id)})).status_code == 201


async def test_a_send_retried_on_both_instances_at_once_is_one_message_and_one_event(two_services, db, make_user):
    a, b = two_services
    alice, bob = await make_user(), await make_user()
    body = {"content": "once", "recipientId": str(bob.id), "clientId": str(uuid.uuid4())}

    answers = await asyncio.gather(*(post((a, b)[i % 2], alice, "/api/chat/messages", body) for i in range(4)))

    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in answers}) == 1
    assert await db.fetchval("SELECT count(*) FROM chat_messages") == 1
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'chat.message'") == 1


async def test_events_follow_the_order_of_messages_sent_through_both_instances(two_services, db, make_user):
    a, b = two_services
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = (
        await post(a, alice, "/api/chat/rooms", {"kind": "channel", "name": "T", "participantIds": [str(bob.id)]})
    ).json()["id"]
    senders = (alice, bob)
    answers = await asyncio.gather(
        *(
            post((a, b)[i % 2], senders[i % 2], f"/api/chat/rooms/{room}/messages", {"content": f"m{i}"})
            for i in range(5)
        )
    )
    assert {r.status_code for r in answers} == {201}

    rows = await db.fetch(
        "SELECT audience, data #>> '{message,id}' AS message FROM events WHERE type = 'chat.message' ORDER BY id"
    )
    history = [
        r["id"] for r in reversed(await db.fetch("SELECT id FROM chat_messages ORDER BY created_at DESC, id DESC"))
    ]
    assert [uuid.UUID(r["message"]) for r in rows] == history
    assert all(set(r["audience"]) == {alice.id, bob.id} for r in rows)
    assert carol.id not in {u for r in rows for u in r["audience"]}

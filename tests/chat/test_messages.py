"""Chat over HTTP: the Fastify plan's message routes (what the SPA's chatAPI calls) and rooms."""

from __future__ import annotations

import asyncio
import uuid

import pytest


async def send(client, user, **body):
    return await client.post("/api/chat/messages", json={"type": "text", **body}, headers=user.headers)


async def test_a_direct_message_reaches_the_conversation_of_both_people(client, db, make_user):
    alice, bob = await make_user(), await make_user()

    response = await send(client, alice, content="Hi Bob", recipientId=str(bob.id), metadata={"k": 1})

    assert response.status_code == 201, response.text
    message = response.json()
    assert message["content"] == "Hi Bob"
    assert message["senderId"] == str(alice.id) and message["recipientId"] == str(bob.id)
    assert message["senderName"] == "Test User"
    assert (message["type"], message["metadata"], message["read"]) == ("text", {"k": 1}, True)
    for reader, other in ((alice, bob), (bob, alice)):
        listed = (await client.get(f"/api/chat/messages/{other.id}", headers=reader.headers)).json()
        assert [m["id"] for m in listed] == [message["id"]]
    assert (await client.get("/api/chat/messages", headers=bob.headers)).json()[0]["read"] is False
    room = await db.fetchrow("SELECT kind, created_by FROM chat_rooms WHERE id = $1", uuid.UUID(message["roomId"]))
    assert (room["kind"], room["created_by"]) == ("direct", alice.id)


async def test_one_direct_room_per_pair_whoever_writes_first(client, db, make_user):
    alice, bob = await make_user(), await make_user()
    answers = await asyncio.gather(
        send(client, alice, content="a", recipientId=str(bob.id)),
        send(client, bob, content="b", recipientId=str(alice.id)),
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["roomId"] for a in answers}) == 1
    assert await db.fetchval("SELECT count(*) FROM chat_rooms") == 1
    created = await client.post(
        "/api/chat/rooms", json={"kind": "direct", "participantIds": [str(bob.id)]}, headers=alice.headers
    )
    assert (created.status_code, created.json()["id"]) == (200, answers[0].json()["roomId"])


async def test_a_retried_send_with_its_client_id_creates_one_message(client, db, make_user):
    alice, bob = await make_user(), await make_user()
    body = {"content": "once", "recipientId": str(bob.id), "clientId": str(uuid.uuid4())}

    first = await send(client, alice, **body)
    again = await asyncio.gather(*(send(client, alice, **body) for _ in range(3)))

    assert first.status_code == 201
    assert {a.status_code for a in again} == {200}
    assert {a.json()["id"] for a in again} == {first.json()["id"]}
    assert await db.fetchval("SELECT count(*) FROM chat_messages") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content": ""}, 400, "validation_error"),
        ({"content": "  \n "}, 400, "validation_error"),
        ({"content": "x" * 4001}, 413, "payload_too_large"),
        ({"content": "x", "metadata": {"blob": "y" * 5000}}, 413, "payload_too_large"),
        ({"content": "x", "type": "video"}, 400, "validation_error"),
        ({"content": 5}, 400, "validation_error"),
        ({"content": "x", "clientId": "not-a-uuid"}, 400, "validation_error"),
    ],
)
async def test_bad_messages_are_refused_and_nothing_is_written(client, db, make_user, body, status, code):
    alice, bob = await make_user(), await make_user()
    response = await send(client, alice, recipientId=str(bob.id), **body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM chat_messages") == 0
    assert await db.fetchval("SELECT count(*) FROM chat_rooms") == 0


async def test_a_message_of_exactly_the_limit_is_accepted(client, make_user):
    alice, bob = await make_user(), await make_user()
    assert (await send(client, alice, content="é" * 4000, recipientId=str(bob.id))).status_code == 201


async def test_recipient_must_exist_and_not_be_me(client, db, make_user):
    alice = await make_user()
    unknown = await send(client, alice, content="hi", recipientId=str(uuid.uuid4()))
    myself = await send(client, alice, content="hi", recipientId=str(alice.id))
    nobody = await send(client, alice, content="hi")
    assert (unknown.status_code, myself.status_code, nobody.status_code) == (404, 400, 400)
    assert await db.fetchval("SELECT count(*) FROM chat_rooms") == 0


async def test_mark_read_and_unread_count(client, make_user):
    alice, bob = await make_user(), await make_user()
    for text in ("one", "two"):
        await send(client, alice, content=text, recipientId=str(bob.id))

    assert (await client.get("/api/chat/messages/unread/count", headers=bob.headers)).json() == {"count": 2}
    assert (await client.get("/api/chat/messages/unread/count", headers=alice.headers)).json() == {"count": 0}
    marked = await client.put(f"/api/chat/messages/read/{alice.id}", headers=bob.headers)
    assert (marked.status_code, marked.json()) == (200, {"success": True})
    assert (await client.get("/api/chat/messages/unread/count", headers=bob.headers)).json() == {"count": 0}
    assert all(m["read"] for m in (await client.get(f"/api/chat/messages/{alice.id}", headers=bob.headers)).json())
    # Nobody to mark: fine, nothing changes.
    assert (await client.put(f"/api/chat/messages/read/{uuid.uuid4()}", headers=bob.headers)).status_code == 200


async def test_delete_is_soft_and_for_the_sender_only(client, db, make_user):
    alice, bob = await make_user(), await make_user()
    message = (await send(client, alice, content="oops", recipientId=str(bob.id))).json()

    by_bob = await client.delete(f"/api/chat/messages/{message['id']}", headers=bob.headers)
    assert by_bob.status_code == 404
    by_alice = await client.delete(f"/api/chat/messages/{message['id']}", headers=alice.headers)
    assert (by_alice.status_code, by_alice.json()) == (200, {"success": True})

    shown = (await client.get(f"/api/chat/messages/{alice.id}", headers=bob.headers)).json()
    assert [(m["id"], m["content"], m["deletedAt"] is not None) for m in shown] == [(message["id"], "", True)]
    assert await db.fetchval("SELECT body FROM chat_messages") == "oops"  # kept, not shown
    assert (await client.delete(f"/api/chat/messages/{message['id']}", headers=alice.headers)).status_code == 404
    assert (await client.get("/api/chat/messages/unread/count", headers=bob.headers)).json() == {"count": 0}


async def test_edit_my_own_message(client, make_user):
    alice, bob = await make_user(), await make_user()
    message = (await send(client, alice, content="helo", recipientId=str(bob.id))).json()
    path = f"/api/chat/messages/{message['id']}"

    edited = await client.patch(path, json={"content": "hello"}, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    assert (edited.json()["content"], edited.json()["editedAt"] is not None) == ("hello", True)
    assert (await client.patch(path, json={"content": "mine"}, headers=bob.headers)).status_code == 404
    assert (await client.patch(path, json={"content": ""}, headers=alice.headers)).status_code == 400
    assert (await client.patch(path, json={"content": "x" * 4001}, headers=alice.headers)).status_code == 413
    await client.delete(path, headers=alice.headers)
    assert (await client.patch(path, json={"content": "back"}, headers=alice.headers)).status_code == 404


async def test_sends_over_the_limit_are_429_with_retry_after(client, db, make_user, app):
    alice, bob = await make_user(), await make_user()
    limit = app.state.settings.chat_max_messages_per_window
    await db.execute(
        "INSERT INTO rate_limit_counters (key, hits, window_ends_at) VALUES ($1, $2, now() + interval '30 s')",
        f"chat.send:{alice.id}",
        limit,
    )
    refused = await send(client, alice, content="flood", recipientId=str(bob.id))
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    # The one 429 shape, as for logins and reset mails.
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["details"] == {"retryAfterSeconds": int(refused.headers["retry-after"])}
    assert await db.fetchval("SELECT count(*) FROM chat_messages") == 0
    assert (await send(client, bob, content="not me", recipientId=str(alice.id))).status_code == 201

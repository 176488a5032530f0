"""The SPA's chatAPI (client/src/lib/api-adapter.ts), call by call: its exact requests, the fields it reads.

axios sends the JSON body as written there (`{content, recipientId, type, metadata}`), PUT without a body, and
every answer goes through `response.data`, so each one must be JSON.
"""

from __future__ import annotations


async def test_chat_api_round_trip_as_the_spa_calls_it(client, make_user):
    me, them = await make_user(), await make_user()

    # sendMessage(content, recipientId, type = 'text', metadata = {})
    sent = await client.post(
        "/api/chat/messages",
        json={"content": "Hello", "recipientId": str(them.id), "type": "text", "metadata": {}},
        headers=me.headers,
    )
    assert sent.status_code == 201
    message = sent.json()
    assert {"id", "content", "senderId", "recipientId", "type", "metadata", "read", "createdAt"} <= message.keys()

    # getMessages(): every message of mine
    mine = await client.get("/api/chat/messages", headers=them.headers)
    assert mine.status_code == 200 and [m["id"] for m in mine.json()] == [message["id"]]

    # getConversation(recipientId)
    conversation = await client.get(f"/api/chat/messages/{me.id}", headers=them.headers)
    assert [(m["content"], m["senderId"], m["read"]) for m in conversation.json()] == [("Hello", str(me.id), False)]

    # getUnreadCount() -> {count}
    count = await client.get("/api/chat/messages/unread/count", headers=them.headers)
    assert count.json() == {"count": 1}

    # markAsRead(senderId): PUT without a body
    read = await client.put(f"/api/chat/messages/read/{me.id}", headers=them.headers)
    assert (read.status_code, read.json()) == (200, {"success": True})
    assert (await client.get("/api/chat/messages/unread/count", headers=them.headers)).json() == {"count": 0}

    # deleteMessage(id): the SPA calls .json() on it
    deleted = await client.delete(f"/api/chat/messages/{message['id']}", headers=me.headers)
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})


async def test_chat_api_without_a_token_is_401_with_the_error_shape(client):
    response = await client.get("/api/chat/messages")
    assert response.status_code == 401
    assert {"message", "code", "requestId"} <= response.json().keys()


async def test_collaboration_chat_channel_by_its_firestore_name(client, db, make_user):
    """CollaborationChat.tsx reads `channels/{general|dashboard}/messages`; the same name addresses the room."""
    user = await make_user()
    room = await client.post("/api/chat/rooms", json={"kind": "channel", "name": "General"}, headers=user.headers)
    await db.execute(
        "UPDATE chat_rooms SET firebase_id = 'channels/general' WHERE id = $1::text::uuid", room.json()["id"]
    )

    posted = await client.post("/api/chat/rooms/general/messages", json={"content": "hi team"}, headers=user.headers)
    assert posted.status_code == 201
    listed = (await client.get("/api/chat/rooms/general/messages?limit=100", headers=user.headers)).json()
    # What the component renders: text, sender id and name, time.
    assert [(m["content"], m["senderId"], m["senderName"]) for m in listed] == [("hi team", str(user.id), "Test User")]
    assert listed[0]["createdAt"]

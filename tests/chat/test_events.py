"""What chat publishes: one event row per change, written in the change's transaction, for the room's people.

The event stream (the platform's `/api/events`) delivers these rows; here the rows themselves are checked.
"""

from __future__ import annotations

import uuid


async def events(db) -> list[tuple[str, set[uuid.UUID], dict]]:
    rows = await db.fetch("SELECT type, audience, data FROM events WHERE type LIKE 'chat.%' ORDER BY id")
    return [(row["type"], set(row["audience"]), row["data"]) for row in rows]


async def test_every_change_is_one_event_for_the_participants_only(client, db, make_user):
    alice, bob, outsider = await make_user(), await make_user(), await make_user()
    room = (
        await client.post(
            "/api/chat/rooms",
            json={"kind": "channel", "name": "T", "participantIds": [str(bob.id)]},
            headers=alice.headers,
        )
    ).json()["id"]
    body = {"content": "hi", "clientId": str(uuid.uuid4())}
    message = (await client.post(f"/api/chat/rooms/{room}/messages", json=body, headers=alice.headers)).json()
    retried = await client.post(f"/api/chat/rooms/{room}/messages", json=body, headers=alice.headers)
    assert retried.status_code == 200
    await client.patch(f"/api/chat/messages/{message['id']}", json={"content": "hey"}, headers=alice.headers)
    await client.put(f"/api/chat/rooms/{room}/read", headers=bob.headers)
    await client.post(f"/api/chat/rooms/{room}/typing", headers=bob.headers)
    await client.delete(f"/api/chat/messages/{message['id']}", headers=alice.headers)

    people = {alice.id, bob.id}
    written = await events(db)
    assert [(kind, audience) for kind, audience, _ in written] == [
        ("chat.room", people),
        ("chat.message", people),  # once, although sent twice
        ("chat.message.edited", people),
        ("chat.read", people),
        ("chat.typing", people),
        ("chat.message.deleted", people),
    ]
    assert all(data["roomId"] == room for _, _, data in written)
    assert written[1][2]["message"]["content"] == "hi" and written[1][2]["message"]["id"] == message["id"]
    assert written[2][2]["message"]["content"] == "hey"
    assert written[3][2]["userId"] == str(bob.id) and written[3][2]["lastReadAt"]
    assert written[5][2]["messageId"] == message["id"]
    assert outsider.id not in {u for _, audience, _ in written for u in audience}


async def test_a_refused_change_publishes_nothing(client, db, make_user):
    alice, outsider = await make_user(), await make_user()
    room = (await client.post("/api/chat/rooms", json={"kind": "group", "name": "G"}, headers=alice.headers)).json()
    before = await events(db)
    for response in (
        await client.post(f"/api/chat/rooms/{room['id']}/messages", json={"content": ""}, headers=alice.headers),
        await client.post(f"/api/chat/rooms/{room['id']}/messages", json={"content": "x"}, headers=outsider.headers),
        await client.post(f"/api/chat/rooms/{room['id']}/typing", headers=outsider.headers),
    ):
        assert response.status_code in (400, 404)
    assert await events(db) == before

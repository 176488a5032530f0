"""Rooms: groups and team channels, their members, paged history, read markers, deletion, imported channels."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from service.db.models.base import uuid7


async def make_room(client, owner, *others, kind="channel", name="Team"):
    response = await client.post(
        "/api/chat/rooms",
        json={"kind": kind, "name": name, "participantIds": [str(o.id) for o in others]},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def post(client, user, room, content, **extra):
    return await client.post(
        f"/api/chat/rooms/{room}/messages", json={"content": content, **extra}, headers=user.headers
    )


async def test_a_channel_lists_with_its_last_message_and_my_unread_count(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = await make_room(client, alice, bob)
    assert (room["kind"], room["name"], room["createdBy"]) == ("channel", "Team", str(alice.id))
    assert set(room["participantIds"]) == {str(alice.id), str(bob.id)}
    for text in ("one", "two", "three"):
        assert (await post(client, alice, room["id"], text)).status_code == 201

    listed = (await client.get("/api/chat/rooms", headers=bob.headers)).json()
    assert [(r["id"], r["unreadCount"], r["lastMessage"]["content"]) for r in listed] == [(room["id"], 3, "three")]
    assert (await client.get("/api/chat/rooms", headers=alice.headers)).json()[0]["unreadCount"] == 0
    assert (await client.get("/api/chat/rooms", headers=carol.headers)).json() == []


async def test_history_is_newest_first_and_pages_by_cursor_from_any_point(client, make_user):
    alice, bob = await make_user(), await make_user()
    room = (await make_room(client, alice, bob))["id"]
    sent = [(await post(client, alice, room, f"m{i}")).json()["id"] for i in range(5)]

    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/chat/rooms/{room}/messages", params=query, headers=bob.headers)
        assert page.status_code == 200
        seen += [m["id"] for m in page.json()]
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert seen == sent[::-1]
    assert (
        'rel="next"'
        in (await client.get(f"/api/chat/rooms/{room}/messages?limit=1", headers=bob.headers)).headers["link"]
    )


async def test_malformed_cursor_and_limit_are_400(client, make_user):
    alice = await make_user()
    room = (await make_room(client, alice))["id"]
    for query in ("cursor=%%%", "cursor=abc", "limit=0", "limit=x"):
        response = await client.get(f"/api/chat/rooms/{room}/messages?{query}", headers=alice.headers)
        assert response.status_code == 400, query
        assert response.json()["message"]
    assert (await client.get("/api/chat/messages?cursor=zz", headers=alice.headers)).status_code == 400


async def test_mark_read_up_to_a_message_never_moves_back(client, make_user):
    alice, bob = await make_user(), await make_user()
    room = (await make_room(client, alice, bob))["id"]
    ids = [(await post(client, alice, room, f"m{i}")).json()["id"] for i in range(3)]

    def unread():
        return client.get(f"/api/chat/rooms/{room}", headers=bob.headers)

    assert (await client.put(f"/api/chat/rooms/{room}/read", json={"messageId": ids[1]}, headers=bob.headers)).json()
    assert (await unread()).json()["unreadCount"] == 1
    await client.put(f"/api/chat/rooms/{room}/read", json={"messageId": ids[0]}, headers=bob.headers)
    assert (await unread()).json()["unreadCount"] == 1
    await client.put(f"/api/chat/rooms/{room}/read", headers=bob.headers)
    assert (await unread()).json()["unreadCount"] == 0
    other_room = (await make_room(client, alice, bob, name="Other"))["id"]
    foreign = (await post(client, alice, other_room, "elsewhere")).json()["id"]
    wrong = await client.put(f"/api/chat/rooms/{room}/read", json={"messageId": foreign}, headers=bob.headers)
    assert wrong.status_code == 404


async def test_members_are_listed_and_only_the_owner_adds_more(client, make_user):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    room = (await make_room(client, alice, bob))["id"]

    members = (await client.get(f"/api/chat/rooms/{room}/members", headers=bob.headers)).json()
    assert {(m["userId"], m["role"]) for m in members} == {(str(alice.id), "owner"), (str(bob.id), "member")}
    path = f"/api/chat/rooms/{room}/members"
    assert (await client.post(path, json={"userIds": [str(carol.id)]}, headers=bob.headers)).status_code == 403
    assert (await client.post(path, json={"userIds": [str(uuid.uuid4())]}, headers=alice.headers)).status_code == 404
    added = await client.post(path, json={"userIds": [str(carol.id)]}, headers=alice.headers)
    assert added.status_code == 200 and len(added.json()) == 3
    assert (await post(client, carol, room, "hello all")).status_code == 201


async def test_room_creation_is_validated(client, db, make_user):
    alice, bob = await make_user(), await make_user()
    cases = [
        ({"kind": "direct", "participantIds": []}, 400),
        ({"kind": "direct", "participantIds": [str(alice.id)]}, 400),
        ({"kind": "direct", "participantIds": [str(uuid.uuid4())]}, 404),
        ({"kind": "channel", "name": " ", "participantIds": [str(bob.id)]}, 400),
        ({"kind": "group", "name": "G", "participantIds": [str(uuid.uuid4())]}, 404),
        ({"kind": "campaign", "name": "G"}, 400),
    ]
    for body, status in cases:
        response = await client.post("/api/chat/rooms", json=body, headers=alice.headers)
        assert response.status_code == status, (body, response.text)
    assert await db.fetchval("SELECT count(*) FROM chat_rooms") == 0


async def test_a_deleted_room_answers_404_to_everyone_and_stops_counting(client, make_user):
    alice, bob = await make_user(), await make_user()
    room = (await make_room(client, alice, bob))["id"]
    await post(client, alice, room, "before")

    assert (await client.delete(f"/api/chat/rooms/{room}", headers=bob.headers)).status_code == 403
    assert (await client.delete(f"/api/chat/rooms/{room}", headers=alice.headers)).json() == {"success": True}

    for user in (alice, bob):
        assert (await client.get(f"/api/chat/rooms/{room}", headers=user.headers)).status_code == 404
        assert (await client.get(f"/api/chat/rooms/{room}/messages", headers=user.headers)).status_code == 404
        assert (await post(client, user, room, "after")).status_code == 404
        assert (await client.get("/api/chat/rooms", headers=user.headers)).json() == []
        assert (await client.get("/api/chat/messages", headers=user.headers)).json() == []
    assert (await client.get("/api/chat/messages/unread/count", headers=bob.headers)).json() == {"count": 0}


async def test_imported_channels_keep_their_history_authors_and_times(client, db, make_user):
    """As the import leaves them: `channels/general` with members and messages of their own times and authors."""
    alice, bob = await make_user(), await make_user()
    room = uuid7()
    await db.execute(
        "INSERT INTO chat_rooms (id, firebase_id, name, kind, created_at) VALUES ($1, 'channels/general', 'General',"
        " 'channel', '2024-01-01')",
        room,
    )
    await db.executemany(
        "INSERT INTO chat_participants (room_id, user_id, role) VALUES ($1, $2, 'member')",
        [(room, alice.id), (room, bob.id)],
    )
    then = datetime(2024, 3, 1, 12, tzinfo=UTC)
    await db.executemany(
        "INSERT INTO chat_messages (id, firebase_id, room_id, sender_id, body, created_at, extra)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (uuid7(), "channels/general/messages/a", room, alice.id, "first", then, {}),
            (
                uuid7(),
                "channels/general/messages/b",
                room,
                None,
                "from a gone account",
                then + timedelta(minutes=1),
                {"sender": {"name": "Old Timer"}},
            ),
        ],
    )
    # Roomless direct messages from the flat `messages` collection.
    await db.execute(
        "INSERT INTO chat_messages (id, firebase_id, sender_id, recipient_id, body, created_at)"
        " VALUES ($1, 'messages/x', $2, $3, 'old dm', $4)",
        uuid7(),
        bob.id,
        alice.id,
        then,
    )

    history = (await client.get("/api/chat/rooms/general/messages", headers=alice.headers)).json()
    assert [(m["content"], m["senderName"], m["createdAt"]) for m in history] == [
        ("from a gone account", "Old Timer", "2024-03-01T12:01:00Z"),
        ("first", "Test User", "2024-03-01T12:00:00Z"),
    ]
    assert (await post(client, bob, "general", "new here")).status_code == 201
    assert (await client.get("/api/chat/rooms/general", headers=alice.headers)).json()["name"] == "General"
    dm = (await client.get(f"/api/chat/messages/{bob.id}", headers=alice.headers)).json()
    assert [(m["content"], m["read"]) for m in dm] == [("old dm", True)]
    assert "old dm" in {m["content"] for m in (await client.get("/api/chat/messages", headers=alice.headers)).json()}
    stranger = await make_user()
    assert (await client.get("/api/chat/rooms/general/messages", headers=stranger.headers)).status_code == 404
    assert (await client.get(f"/api/chat/messages/{bob.id}", headers=stranger.headers)).json() == []

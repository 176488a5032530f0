"""Chat SQL on asyncpg. A room exists for a user only through their participant row: every read joins it.

Messages imported from Firestore's flat `messages` collection may have no room; they belong to their sender and
recipient, and count as read (they are history, with no read marker to move).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from service.db.models.base import uuid7
from service.web.pagination import Keyset

# The order of MessageOut's fields; $1 is the viewer. A deleted message keeps its place but not its content.
MESSAGE_COLUMNS = """
m.id, m.room_id, m.sender_id, coalesce(u.full_name, m.extra #>> '{sender,name}') AS sender_name, m.recipient_id,
CASE WHEN m.deleted_at IS NULL THEN m.body ELSE '' END AS content, m.type,
CASE WHEN m.deleted_at IS NULL THEN m.metadata ELSE '{}'::jsonb END AS metadata, m.client_id,
m.sender_id IS NOT DISTINCT FROM $1 OR coalesce(m.created_at <= p.last_read_at, p.user_id IS NULL) AS read,
m.created_at, m.edited_at, m.deleted_at
"""
# Rooms of the viewer ($1) that are not deleted; messages are joined to them.
MY_MESSAGES = f"""
SELECT {MESSAGE_COLUMNS}
FROM chat_messages m
JOIN chat_participants p ON p.room_id = m.room_id AND p.user_id = $1
JOIN chat_rooms r ON r.id = m.room_id AND r.deleted_at IS NULL
LEFT JOIN users u ON u.id = m.sender_id
"""  # noqa: S608 - constants only
# The same, plus roomless imported messages the viewer sent or received.
MY_MESSAGES_AND_ROOMLESS = f"""
SELECT {MESSAGE_COLUMNS}
FROM chat_messages m
LEFT JOIN chat_participants p ON p.room_id = m.room_id AND p.user_id = $1
LEFT JOIN chat_rooms r ON r.id = m.room_id
LEFT JOIN users u ON u.id = m.sender_id
WHERE ((p.user_id IS NOT NULL AND r.deleted_at IS NULL)
       OR (m.room_id IS NULL AND $1 IN (m.sender_id, m.recipient_id)))
"""  # noqa: S608
NEWEST_FIRST = "ORDER BY m.created_at DESC, m.id DESC"

ROOM_OF = """
SELECT r.id, r.kind, p.role FROM chat_rooms r JOIN chat_participants p ON p.room_id = r.id AND p.user_id = $1
WHERE r.deleted_at IS NULL AND {key}
"""
# Direct rooms with exactly these two people, imported ones included (they have no key of their own).
FIND_DIRECT = """
SELECT r.id FROM chat_rooms r
JOIN chat_participants a ON a.room_id = r.id AND a.user_id = $1
JOIN chat_participants b ON b.room_id = r.id AND b.user_id = $2
WHERE r.kind = 'direct' AND r.deleted_at IS NULL
  AND (SELECT count(*) FROM chat_participants c WHERE c.room_id = r.id) = 2
ORDER BY r.created_at LIMIT 1
"""
INSERT_MESSAGE = f"""
WITH inserted AS (
    INSERT INTO chat_messages AS m (id, room_id, sender_id, recipient_id, body, type, metadata, client_id, created_at)
    VALUES ($2, $3, $1, $4, $5, $6, $7, $8, clock_timestamp())
    ON CONFLICT (sender_id, client_id) DO NOTHING
    RETURNING *
)
SELECT {MESSAGE_COLUMNS}, true AS created FROM inserted m
LEFT JOIN chat_participants p ON p.room_id = m.room_id AND p.user_id = $1
LEFT JOIN users u ON u.id = m.sender_id
"""  # noqa: S608
BY_CLIENT_ID = f"{MY_MESSAGES} WHERE m.sender_id = $1 AND m.client_id = $2"
MESSAGE = f"{MY_MESSAGES} WHERE m.id = $2"
# Only the sender changes a message, and only while it is not deleted.
EDIT = """
UPDATE chat_messages m SET body = $3, edited_at = now()
FROM chat_participants p, chat_rooms r
WHERE m.id = $2 AND m.sender_id = $1 AND m.deleted_at IS NULL
  AND p.room_id = m.room_id AND p.user_id = $1 AND r.id = m.room_id AND r.deleted_at IS NULL
RETURNING m.id
"""
SOFT_DELETE = """
UPDATE chat_messages m SET deleted_at = now()
WHERE m.id = $2 AND m.sender_id = $1 AND m.deleted_at IS NULL
  AND (m.room_id IS NULL OR EXISTS (
      SELECT 1 FROM chat_participants p JOIN chat_rooms r ON r.id = p.room_id AND r.deleted_at IS NULL
      WHERE p.room_id = m.room_id AND p.user_id = $1))
RETURNING m.id, m.room_id
"""
# The marker only moves forward, so receipts arriving out of order never unread anything.
MARK_READ = """
UPDATE chat_participants SET last_read_at = greatest(last_read_at, $3)
WHERE room_id = $2 AND user_id = $1
RETURNING last_read_at
"""
NEWEST_IN_ROOM = "SELECT max(created_at) FROM chat_messages WHERE room_id = $1"
MESSAGE_TIME_IN_ROOM = "SELECT created_at FROM chat_messages WHERE id = $2 AND room_id = $1"
UNREAD_COUNT = """
SELECT count(*) FROM chat_messages m
JOIN chat_participants p ON p.room_id = m.room_id AND p.user_id = $1
JOIN chat_rooms r ON r.id = m.room_id AND r.deleted_at IS NULL
WHERE m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $1
  AND m.created_at > coalesce(p.last_read_at, '-infinity')
"""
ROOMS = """
SELECT r.id, r.name, r.kind, r.created_by, r.created_at, r.updated_at,
       (SELECT array_agg(c.user_id ORDER BY c.joined_at, c.user_id) FROM chat_participants c WHERE c.room_id = r.id)
           AS participant_ids,
       (SELECT count(*) FROM chat_messages m
        WHERE m.room_id = r.id AND m.deleted_at IS NULL AND m.sender_id IS DISTINCT FROM $1
          AND m.created_at > coalesce(p.last_read_at, '-infinity')) AS unread_count,
       (SELECT m.id FROM chat_messages m WHERE m.room_id = r.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1)
           AS last_message_id
FROM chat_rooms r JOIN chat_participants p ON p.room_id = r.id AND p.user_id = $1
WHERE r.deleted_at IS NULL {only}
ORDER BY coalesce((SELECT max(m.created_at) FROM chat_messages m WHERE m.room_id = r.id), r.created_at) DESC, r.id
"""
MESSAGES_BY_ID = f"{MY_MESSAGES} WHERE m.id = ANY($2::uuid[])"
MEMBERS = """
SELECT c.user_id, u.full_name, u.email, c.role, c.joined_at, c.last_read_at
FROM chat_participants c JOIN users u ON u.id = c.user_id
WHERE c.room_id = $1 ORDER BY c.joined_at, c.user_id
"""
AUDIENCE = "SELECT array_agg(user_id) FROM chat_participants WHERE room_id = $1"
INSERT_ROOM = "INSERT INTO chat_rooms (id, name, kind, created_by) VALUES ($1, $2, $3, $4)"
ADD_PARTICIPANTS = """
INSERT INTO chat_participants (room_id, user_id, role)
SELECT $1, u.id, CASE WHEN u.id = $3 THEN 'owner' ELSE 'member' END FROM users u WHERE u.id = ANY($2::uuid[])
ON CONFLICT DO NOTHING
"""
EXISTING_USERS = "SELECT count(*) FROM users WHERE id = ANY($1::uuid[])"
SOFT_DELETE_ROOM = "UPDATE chat_rooms SET deleted_at = now(), updated_at = now() WHERE id = $1"
TOUCH_ROOM = "UPDATE chat_rooms SET updated_at = now() WHERE id = $1"


def room_key(key: str) -> tuple[str, Any]:
    """Rooms are named by id, or by their Firestore name (`general`), so the SPA's channel names keep working."""
    try:
        return "r.id = $2", uuid.UUID(key)
    except ValueError:
        return "r.firebase_id = 'channels/' || $2", key


async def room_of(connection: asyncpg.Connection, user: uuid.UUID, key: str) -> asyncpg.Record | None:
    condition, value = room_key(key)
    return await connection.fetchrow(ROOM_OF.format(key=condition), user, value)


def _page(base: str, where: str, params: list[Any], after: Keyset | None, limit: int) -> tuple[str, list[Any]]:
    conditions = [where] if where else []
    if after is not None:
        n = len(params)
        conditions.append(f"(m.created_at, m.id) < (${n + 1}, ${n + 2})")
        params = [*params, *after]
    joiner = " AND " if "WHERE" in base else " WHERE "
    sql = base + (joiner + " AND ".join(conditions) if conditions else "")
    return f"{sql} {NEWEST_FIRST} LIMIT {limit + 1}", params


async def room_messages(
    connection: asyncpg.Connection, user: uuid.UUID, room: uuid.UUID, after: Keyset | None, limit: int
) -> list[asyncpg.Record]:
    sql, params = _page(MY_MESSAGES, "m.room_id = $2", [user, room], after, limit)
    return await connection.fetch(sql, *params)


async def my_messages(
    connection: asyncpg.Connection, user: uuid.UUID, after: Keyset | None, limit: int
) -> list[asyncpg.Record]:
    sql, params = _page(MY_MESSAGES_AND_ROOMLESS, "", [user], after, limit)
    return await connection.fetch(sql, *params)


async def conversation(
    connection: asyncpg.Connection, user: uuid.UUID, other: uuid.UUID, after: Keyset | None, limit: int
) -> list[asyncpg.Record]:
    """The direct room of the pair, and the roomless imported messages between them."""
    where = (
        f"(m.room_id = ({FIND_DIRECT})"
        " OR (m.room_id IS NULL AND ((m.sender_id = $1 AND m.recipient_id = $2)"
        " OR (m.sender_id = $2 AND m.recipient_id = $1))))"
    )
    sql, params = _page(MY_MESSAGES_AND_ROOMLESS, where, [user, other], after, limit)
    return await connection.fetch(sql, *params)


async def find_direct(connection: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> uuid.UUID | None:
    return await connection.fetchval(FIND_DIRECT, a, b)


async def count_users(connection: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> int:
    return await connection.fetchval(EXISTING_USERS, list(ids))


async def create_room(
    connection: asyncpg.Connection, creator: uuid.UUID, kind: str, name: str | None, members: Sequence[uuid.UUID]
) -> uuid.UUID:
    room = uuid7()
    await connection.execute(INSERT_ROOM, room, name, kind, creator)
    await connection.execute(ADD_PARTICIPANTS, room, [creator, *members], creator)
    return room


async def add_participants(connection: asyncpg.Connection, room: uuid.UUID, users: Sequence[uuid.UUID]) -> None:
    await connection.execute(ADD_PARTICIPANTS, room, list(users), None)


async def insert_message(
    connection: asyncpg.Connection,
    sender: uuid.UUID,
    room: uuid.UUID,
    recipient: uuid.UUID | None,
    content: str,
    type: str,
    metadata: dict[str, Any],
    client_id: uuid.UUID | None,
) -> tuple[asyncpg.Record | None, bool]:
    """(the message, whether this call created it); a known client id answers the message it created before."""
    row = await connection.fetchrow(
        INSERT_MESSAGE, sender, uuid7(), room, recipient, content, type, metadata, client_id
    )
    if row is not None:
        await connection.execute(TOUCH_ROOM, room)
        return row, True
    return await connection.fetchrow(BY_CLIENT_ID, sender, client_id), False


async def message(connection: asyncpg.Connection, user: uuid.UUID, id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(MESSAGE, user, id)


async def edit_message(connection: asyncpg.Connection, user: uuid.UUID, id: uuid.UUID, content: str) -> bool:
    return await connection.fetchval(EDIT, user, id, content) is not None


async def delete_message(connection: asyncpg.Connection, user: uuid.UUID, id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(SOFT_DELETE, user, id)


async def message_time(connection: asyncpg.Connection, room: uuid.UUID, message: uuid.UUID | None) -> datetime | None:
    if message is None:
        return await connection.fetchval(NEWEST_IN_ROOM, room)
    return await connection.fetchval(MESSAGE_TIME_IN_ROOM, room, message)


async def mark_read(
    connection: asyncpg.Connection, user: uuid.UUID, room: uuid.UUID, upto: datetime
) -> datetime | None:
    return await connection.fetchval(MARK_READ, user, room, upto)


async def unread_count(connection: asyncpg.Connection, user: uuid.UUID) -> int:
    return await connection.fetchval(UNREAD_COUNT, user)


async def rooms(
    connection: asyncpg.Connection, user: uuid.UUID, room: uuid.UUID | None = None
) -> tuple[list[asyncpg.Record], dict[uuid.UUID, asyncpg.Record]]:
    """My rooms (or one of them), and their last messages by id."""
    if room is None:
        rows = await connection.fetch(ROOMS.format(only=""), user)
    else:
        rows = await connection.fetch(ROOMS.format(only="AND r.id = $2"), user, room)
    ids = [row["last_message_id"] for row in rows if row["last_message_id"] is not None]
    last = await connection.fetch(MESSAGES_BY_ID, user, ids) if ids else []
    return rows, {row["id"]: row for row in last}


async def members(connection: asyncpg.Connection, room: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(MEMBERS, room)


async def audience(connection: asyncpg.Connection, room: uuid.UUID) -> list[uuid.UUID]:
    return await connection.fetchval(AUDIENCE, room) or []


async def delete_room(connection: asyncpg.Connection, room: uuid.UUID) -> None:
    await connection.execute(SOFT_DELETE_ROOM, room)

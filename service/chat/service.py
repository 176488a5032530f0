"""Chat rules: who may read and write a room, message limits, idempotent sends, read markers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from service.auth.throttle import count_hits
from service.chat import repository
from service.chat.schemas import MemberOut, MessageIn, MessageOut, RoomIn, RoomOut
from service.config import Settings
from service.errors import Conflict, Forbidden, NotFound, RateLimited, TooLarge, ValidationFailed
from service.realtime import publish
from service.realtime.events import PUBLISH_LOCK_ID
from service.web.pagination import Keyset

MAX_CONTENT = 4000
MAX_METADATA_BYTES = 4000
_encode = msgspec.json.Encoder().encode

# Serialises the creation of one pair's direct room, so two concurrent first messages make one room.
LOCK_PAIR = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
# publish()'s own lock (it orders every event of the cluster), held until commit.
HOLD_EVENT_ORDER = "SELECT pg_advisory_xact_lock($1)"


def checked_content(content: str) -> str:
    if not content.strip():
        raise ValidationFailed.field("content", "a message cannot be empty")
    if len(content) > MAX_CONTENT:
        raise TooLarge(f"A message holds at most {MAX_CONTENT} characters")
    return content


def check_message(data: MessageIn) -> None:
    checked_content(data.content)
    if len(_encode(data.metadata)) > MAX_METADATA_BYTES:
        raise TooLarge(f"metadata holds at most {MAX_METADATA_BYTES} bytes")


async def count_send(
    connection: asyncpg.Connection, settings: Settings, user: uuid.UUID, action: str = "chat.send"
) -> None:
    """One send (or typing signal) against the user's budget; counted in its own statement, so every instance
    sees it at once."""
    key = f"{action}:{user}"
    for _, hits, retry_after in await count_hits(connection, (key,), settings.chat_message_window_seconds):
        if hits > settings.chat_max_messages_per_window:
            raise RateLimited(retry_after, "Too many messages; try again later")


async def announce(connection: asyncpg.Connection, room: uuid.UUID, type: str, data: dict[str, object]) -> None:
    """Tell the room's participants, in the change's transaction: they hear of it at commit, never on rollback.

    publish() holds the cluster's event-order lock until commit, so it comes last in each transaction.
    """
    await publish(connection, await repository.audience(connection, room), type, {"roomId": room, **data})


async def room_or_404(connection: asyncpg.Connection, user: uuid.UUID, key: str) -> asyncpg.Record:
    room = await repository.room_of(connection, user, key)
    if room is None:
        raise NotFound("Room")
    return room


async def direct_room(connection: asyncpg.Connection, user: uuid.UUID, other: uuid.UUID) -> tuple[uuid.UUID, bool]:
    """The pair's direct room, made on first use: (its id, whether this call made it). Inside a transaction."""
    if other == user:
        raise ValidationFailed.field("recipientId", "you cannot start a conversation with yourself")
    if await repository.count_users(connection, [other]) == 0:
        raise NotFound("User")
    await connection.execute(LOCK_PAIR, ":".join(sorted((str(user), str(other)))))
    room = await repository.find_direct(connection, user, other)
    if room is not None:
        return room, False
    return await repository.create_room(connection, user, "direct", None, [other]), True


def messages_out(rows: Sequence[asyncpg.Record]) -> list[MessageOut]:
    return [MessageOut(*row) for row in rows]


class ChatService:
    """Rooms and messages of the caller: every method takes the caller's id and reaches only their rooms.

    Built once at start-up (service/chat/runtime.py) and injected into the handlers.
    """

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def send(
        self,
        user: uuid.UUID,
        data: MessageIn,
        *,
        room_key: str | None = None,
        recipient: uuid.UUID | None = None,
    ) -> tuple[MessageOut, bool]:
        """Post into one of my rooms, or to a user (their direct room). (the message, whether it is new)."""
        check_message(data)
        async with self.pool.acquire() as connection:
            await count_send(connection, self.settings, user)
            async with connection.transaction():
                if recipient is not None:
                    room, _ = await direct_room(connection, user, recipient)
                elif room_key is not None:
                    room = (await room_or_404(connection, user, room_key))["id"]
                else:
                    raise ValidationFailed.field("recipientId", "required", message="Name a recipientId or a roomId")
                # Taken before the row gets its time, so a room's history (by time) and its events (by commit) agree.
                await connection.execute(HOLD_EVENT_ORDER, PUBLISH_LOCK_ID)
                row, created = await repository.insert_message(
                    connection, user, room, recipient, data.content, data.type, data.metadata, data.client_id
                )
                if row is None:
                    # The client id names a message of another room (one this user can no longer see): a client bug.
                    raise Conflict("clientId was already used for another message")
                message = MessageOut(*row[: len(MessageOut.__struct_fields__)])
                if created:  # a retry announces nothing: every participant hears of a message once
                    # `read` in an event is the recipients' view; the sender's own streams know it is theirs.
                    await announce(
                        connection, room, "chat.message", {"message": msgspec.structs.replace(message, read=False)}
                    )
        return message, created

    async def my_messages(self, user: uuid.UUID, after: Keyset | None, limit: int) -> list[asyncpg.Record]:
        async with self.pool.acquire() as connection:
            return await repository.my_messages(connection, user, after, limit)

    async def conversation(
        self, user: uuid.UUID, other: uuid.UUID, after: Keyset | None, limit: int
    ) -> list[asyncpg.Record]:
        async with self.pool.acquire() as connection:
            return await repository.conversation(connection, user, other, after, limit)

    async def unread_count(self, user: uuid.UUID) -> int:
        async with self.pool.acquire() as connection:
            return await repository.unread_count(connection, user)

    async def room_messages(
        self, user: uuid.UUID, room_key: str, after: Keyset | None, limit: int
    ) -> list[asyncpg.Record]:
        async with self.pool.acquire() as connection:
            room = await room_or_404(connection, user, room_key)
            return await repository.room_messages(connection, user, room["id"], after, limit)

    async def edit(self, user: uuid.UUID, message: uuid.UUID, content: str) -> MessageOut:
        checked_content(content)
        async with self.pool.acquire() as connection, connection.transaction():
            edited = await repository.edit_message(connection, user, message, content)
            row = await repository.message(connection, user, message) if edited else None
            if row is None:
                raise NotFound("Message")
            out = MessageOut(*row)
            await announce(
                connection, row["room_id"], "chat.message.edited", {"message": msgspec.structs.replace(out, read=False)}
            )
        return out

    async def delete(self, user: uuid.UUID, message: uuid.UUID) -> None:
        """Soft: the conversation keeps the message's place and shows that it was deleted."""
        async with self.pool.acquire() as connection, connection.transaction():
            deleted = await repository.delete_message(connection, user, message)
            if deleted is None:
                raise NotFound("Message")
            if deleted["room_id"] is not None:  # roomless imported messages have no live audience
                await announce(connection, deleted["room_id"], "chat.message.deleted", {"messageId": message})

    async def mark_read(self, user: uuid.UUID, room_key: str, message: uuid.UUID | None) -> None:
        """Up to `message` (one of the room's), or to the newest; the marker never moves back."""
        async with self.pool.acquire() as connection, connection.transaction():
            room = (await room_or_404(connection, user, room_key))["id"]
            upto = await repository.message_time(connection, room, message)
            if upto is None:
                if message is not None:
                    raise NotFound("Message")
                return
            last_read_at = await repository.mark_read(connection, user, room, upto)
            await announce(connection, room, "chat.read", {"userId": user, "lastReadAt": last_read_at})

    async def mark_read_from(self, user: uuid.UUID, sender: uuid.UUID) -> None:
        """The Fastify plan's receipt: everything in my direct room with `sender` (none yet: nothing to do)."""
        async with self.pool.acquire() as connection:
            room = await repository.find_direct(connection, user, sender)
        if room is not None:
            await self.mark_read(user, str(room), None)

    async def typing(self, user: uuid.UUID, room_key: str) -> None:
        """A typing signal for the room's other open streams; nothing is stored but the event (kept an hour)."""
        async with self.pool.acquire() as connection:
            await count_send(connection, self.settings, user, "chat.typing")
            async with connection.transaction():
                room = (await room_or_404(connection, user, room_key))["id"]
                await announce(connection, room, "chat.typing", {"userId": user})

    async def rooms(self, user: uuid.UUID, room: uuid.UUID | None = None) -> list[RoomOut]:
        async with self.pool.acquire() as connection:
            rows, last = await repository.rooms(connection, user, room)
        out = []
        for row in rows:
            message = last.get(row["last_message_id"])
            out.append(
                RoomOut(
                    id=row["id"],
                    name=row["name"],
                    kind=row["kind"],
                    created_by=row["created_by"],
                    created_at=row["created_at"],
                    updated_at=row["updated_at"],
                    participant_ids=row["participant_ids"],
                    unread_count=row["unread_count"],
                    last_message=MessageOut(*message) if message else None,
                )
            )
        return out

    async def room(self, user: uuid.UUID, room_key: str) -> RoomOut:
        async with self.pool.acquire() as connection:
            room_id = (await room_or_404(connection, user, room_key))["id"]
        return (await self.rooms(user, room_id))[0]

    async def create_room(self, user: uuid.UUID, data: RoomIn) -> tuple[RoomOut, bool]:
        """A direct room is one per pair (asking again answers the same room); groups and channels are new each time."""
        others = sorted(set(data.participant_ids) - {user})
        async with self.pool.acquire() as connection, connection.transaction():
            if data.kind == "direct":
                if len(others) != 1:
                    raise ValidationFailed.field("participantIds", "a direct room has exactly one other participant")
                room_id, created = await direct_room(connection, user, others[0])
            else:
                if not (data.name or "").strip():
                    raise ValidationFailed.field("name", "a group or channel needs a name")
                if await repository.count_users(connection, others) != len(others):
                    raise NotFound("User")
                room_id, created = await repository.create_room(connection, user, data.kind, data.name, others), True
            if created:
                await announce(connection, room_id, "chat.room", {"change": "created"})
        return (await self.rooms(user, room_id))[0], created

    async def members(self, user: uuid.UUID, room_key: str) -> list[MemberOut]:
        async with self.pool.acquire() as connection:
            room_id = (await room_or_404(connection, user, room_key))["id"]
            return [MemberOut(*row) for row in await repository.members(connection, room_id)]

    async def add_members(self, user: uuid.UUID, room_key: str, users: Sequence[uuid.UUID]) -> list[MemberOut]:
        """Owners add people to groups and channels; a direct room stays a pair."""
        async with self.pool.acquire() as connection, connection.transaction():
            room = await room_or_404(connection, user, room_key)
            if room["kind"] == "direct":
                raise ValidationFailed.field("userIds", "a direct room cannot get more participants")
            if room["role"] != "owner":
                raise Forbidden("Only the room's owner can add participants")
            wanted = sorted(set(users))
            if await repository.count_users(connection, wanted) != len(wanted):
                raise NotFound("User")
            await repository.add_participants(connection, room["id"], wanted)
            members = [MemberOut(*row) for row in await repository.members(connection, room["id"])]
            await announce(connection, room["id"], "chat.room", {"change": "members"})
            return members

    async def delete_room(self, user: uuid.UUID, room_key: str) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            room = await room_or_404(connection, user, room_key)
            if room["role"] != "owner" and room["kind"] != "direct":
                raise Forbidden("Only the room's owner can delete it")
            await repository.delete_room(connection, room["id"])
            await announce(connection, room["id"], "chat.room", {"change": "deleted"})

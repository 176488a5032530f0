"""Chat: ``channels`` (rooms with members), ``channels/{id}/messages``, and the flat ``messages``."""

from __future__ import annotations

from etl.transform.common import CREATED_AT, UPDATED_AT
from etl.transform.convert import choice, text, timestamp
from etl.transform.engine import Field, Members, Ref, Spec
from service.db.vocabulary import ROOM_KINDS


def _user(column: str, *names: str) -> Ref:
    return Ref(column, names, "users", "users", by_email=True)


CHANNELS = Spec(
    name="channels",
    pattern="channels",
    table="chat_rooms",
    refs=(_user("created_by", "createdBy", "ownerId", "creatorId"),),
    members=Members(
        table="chat_participants",
        owner_column="room_id",
        member_column="user_id",
        names=("members", "participants", "memberIds"),
        target="users",
        collection="users",
        values={
            "role": "CASE WHEN m.id = o.created_by THEN 'owner' ELSE 'member' END",
            "joined_at": "o.created_at",
            "position": "ms.position",
        },
    ),
    fields=(
        Field("name", ("name", "title"), text),
        Field("kind", ("type", "kind"), choice(ROOM_KINDS, {"dm": "direct", "public": "channel"}), default="channel"),
        CREATED_AT,
        UPDATED_AT,
    ),
)

_MESSAGE_FIELDS = (
    Field("body", ("text", "message", "content", "body"), text, default=""),
    Field("created_at", ("createdAt", "timestamp", "sentAt"), timestamp),
    Field("edited_at", ("editedAt",), timestamp),
    Field("deleted_at", ("deletedAt",), timestamp),
)
_PEOPLE = (
    _user("sender_id", "senderId", "userId", "uid", "from"),
    _user("recipient_id", "recipientId", "receiverId", "to"),
)

CHANNEL_MESSAGES = Spec(
    name="channel_messages",
    pattern="channels/*/messages",
    table="chat_messages",
    refs=(Ref("room_id", (), "chat_rooms", "channels"), *_PEOPLE),
    fields=_MESSAGE_FIELDS,
)

MESSAGES = Spec(
    name="messages",
    pattern="messages",
    table="chat_messages",
    refs=(Ref("room_id", ("channelId", "roomId", "chatId"), "chat_rooms", "channels"), *_PEOPLE),
    fields=_MESSAGE_FIELDS,
)

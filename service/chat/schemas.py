"""Chat DTOs: the JSON the SPA sends and reads (camelCase; the Fastify plan's field names for messages)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from service.web.schemas import CamelStruct

MessageType = Literal["text", "image", "file"]
RoomKind = Literal["direct", "group", "channel"]
# Generous bounds that only stop absurd bodies; the content limit itself is a rule of the service (413).
Content = Annotated[str, msgspec.Meta(max_length=100_000)]
Name = Annotated[str, msgspec.Meta(max_length=200)]


class MessageIn(CamelStruct, kw_only=True):
    """A new message. `clientId` (a UUID the client makes) turns a retried send into the same message."""

    content: Content
    type: MessageType = "text"
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    client_id: uuid.UUID | None = None


class DirectMessageIn(MessageIn, kw_only=True):
    """POST /api/chat/messages: to a user (`recipientId`, a direct room) or into one of my rooms (`roomId`)."""

    recipient_id: uuid.UUID | None = None
    room_id: str | None = None


class MessageEdit(CamelStruct, kw_only=True):
    content: Content


class MessageOut(CamelStruct):
    """Field order matches `repository.MESSAGE_COLUMNS`. `read`: the caller has read it (own messages are)."""

    id: uuid.UUID
    room_id: uuid.UUID | None
    sender_id: uuid.UUID | None
    sender_name: str | None
    recipient_id: uuid.UUID | None
    content: str
    type: str
    metadata: dict[str, Any]
    client_id: uuid.UUID | None
    read: bool
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None


class RoomIn(CamelStruct, kw_only=True):
    """A direct room names exactly one other user; a group or channel any number (the creator is added)."""

    kind: RoomKind = "group"
    name: Name | None = None
    participant_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)] = msgspec.field(default_factory=list)


class MembersIn(CamelStruct, kw_only=True):
    user_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=500)]


class ReadIn(CamelStruct, kw_only=True):
    """Mark read up to this message (inclusive); absent: up to the newest."""

    message_id: uuid.UUID | None = None


class RoomOut(CamelStruct):
    id: uuid.UUID
    name: str | None
    kind: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    participant_ids: list[uuid.UUID]
    unread_count: int
    last_message: MessageOut | None


class MemberOut(CamelStruct):
    user_id: uuid.UUID
    full_name: str | None
    email: str
    role: str
    joined_at: datetime
    last_read_at: datetime | None


class Count(CamelStruct):
    count: int


class Success(CamelStruct):
    success: bool = True

"""Chat between users: rooms (Firestore `channels`), who is in them, and their messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt, Imported, Timestamps, UUIDPrimaryKey, one_of
from service.db.vocabulary import ROOM_KINDS

PARTICIPANT_ROLES = ("member", "owner")
MESSAGE_TYPES = ("text", "image", "file")


class ChatRoom(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "chat_rooms"
    __table_args__ = (one_of("kind", ROOM_KINDS),)

    name: Mapped[str | None]
    kind: Mapped[str] = mapped_column(server_default="channel")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A deleted room keeps its rows (history, audits) but answers 404 to everyone.
    deleted_at: Mapped[datetime | None]


class ChatParticipant(Base):
    __tablename__ = "chat_participants"
    __table_args__ = (one_of("role", PARTICIPANT_ROLES), Index("ix_chat_participants_user_id", "user_id"))

    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(server_default="member")
    joined_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_read_at: Mapped[datetime | None]
    position: Mapped[int | None]  # the member's place in the imported members array (export keeps the order)


class ChatMessage(UUIDPrimaryKey, CreatedAt, Imported, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        one_of("type", MESSAGE_TYPES),
        Index("ix_chat_messages_room_id_created_at", "room_id", "created_at"),
        # A client retrying a send with the same id gets the message it already created.
        UniqueConstraint("sender_id", "client_id"),
    )

    # Messages from the flat Firestore `messages` collection may name no room.
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    # A deleted account leaves its messages in the conversation, unattributed.
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str]
    type: Mapped[str] = mapped_column(server_default="text")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default="{}")
    client_id: Mapped[uuid.UUID | None]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

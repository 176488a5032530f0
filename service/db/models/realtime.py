"""Real-time events: what browsers are told, one row per event, kept for the resume window."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Identity, Index
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt


class RealtimeEvent(CreatedAt, Base):
    __tablename__ = "events"
    # Purged by age (created_at); read by id range (the primary key).
    __table_args__ = (Index("ix_events_created_at", "created_at"),)

    # Ids increase in commit order (publish() serialises the writers), so "everything after id N" is exact.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The users who may receive it; no foreign key, so a deleted user does not hold up the purge.
    audience: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    type: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(server_default="{}")

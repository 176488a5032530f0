"""Product analytics events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, func, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, Imported, UUIDPrimaryKey


class AnalyticsEvent(UUIDPrimaryKey, Imported, Base):
    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_user_id_occurred_at", "user_id", text("occurred_at DESC")),
        Index("ix_analytics_events_name_occurred_at", "name", text("occurred_at DESC")),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str]
    properties: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""Post-call analysis: one row per call, written once; it also keeps the analysis idempotent across job runs."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, Timestamps, one_of

ANALYSIS_STATUSES = ("pending", "done", "skipped")


class CallAnalysis(Timestamps, Base):
    __tablename__ = "call_analyses"
    __table_args__ = (one_of("status", ANALYSIS_STATUSES), Index("ix_call_analyses_user_id", "user_id"))

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(server_default="pending")
    # Why a call was not analysed (no credits, nothing to analyse), shown to the user.
    reason: Mapped[str | None]
    # Held while a run works; a rerun after a crash reuses it instead of reserving again.
    credit_reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_reservations.id", ondelete="SET NULL")
    )
    credits: Mapped[int | None]
    sentiment: Mapped[str | None]
    sentiment_score: Mapped[float | None]
    summary: Mapped[str | None]
    suggested_outcome: Mapped[str | None]
    follow_up_suggestion: Mapped[str | None]
    analysed_at: Mapped[datetime | None]

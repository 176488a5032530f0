"""Credits held for a paid call to an outside service until it succeeds (charged) or fails (refunded)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt, UUIDPrimaryKey, one_of

RESERVATION_STATUSES = ("reserved", "charged", "refunded")


class CreditReservation(UUIDPrimaryKey, CreatedAt, Base):
    """The credits are taken from the balance when reserved; settling moves the status once, never back."""

    __tablename__ = "credit_reservations"
    __table_args__ = (
        one_of("status", RESERVATION_STATUSES),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_credit_reservations_user_id", "user_id"),
        Index("ix_credit_reservations_open", "created_at", postgresql_where=text("status = 'reserved'")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount: Mapped[int]
    # What the credits pay for, e.g. "call" or "sms" (shown in the ledger's reason).
    purpose: Mapped[str]
    status: Mapped[str] = mapped_column(server_default="reserved")
    settled_at: Mapped[datetime | None]

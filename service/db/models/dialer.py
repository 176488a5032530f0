"""The campaign dialer: each campaign's dialing rules, one target per (campaign, contact), and the shared pacing."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, Timestamps, one_of

TARGET_STATES = ("pending", "dialing", "done", "skipped", "canceled")
SKIP_REASONS = ("opted_out", "do_not_call", "no_phone", "no_timezone", "no_calling_hours")
VOICEMAIL_ACTIONS = ("hangup", "message")


class DialerRules(Timestamps, Base):
    """How one campaign dials; a campaign without a row dials with the defaults."""

    __tablename__ = "dialer_rules"
    __table_args__ = (
        one_of("voicemail_action", VOICEMAIL_ACTIONS),
        CheckConstraint("calling_start < calling_end", name="window_not_empty"),
        CheckConstraint("retry_delay_seconds >= 0", name="retry_delay_not_negative"),
        CheckConstraint("max_attempts BETWEEN 1 AND 10", name="max_attempts_range"),
        CheckConstraint("calling_days <@ '{1,2,3,4,5,6,7}'::smallint[]", name="calling_days_iso"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    # In the contact's own time zone; the US TCPA window by default. The end is exclusive.
    calling_start: Mapped[time] = mapped_column(server_default=text("'08:00'"))
    calling_end: Mapped[time] = mapped_column(server_default=text("'21:00'"))
    # ISO weekdays (1 = Monday) on which the window opens.
    calling_days: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default=text("'{1,2,3,4,5,6,7}'"))
    retry_delay_seconds: Mapped[int] = mapped_column(server_default=text("3600"))
    max_attempts: Mapped[int] = mapped_column(server_default=text("3"))
    machine_detection: Mapped[bool] = mapped_column(server_default=text("false"))
    voicemail_action: Mapped[str] = mapped_column(server_default=text("'hangup'"))
    voicemail_message: Mapped[str | None]


class DialerTarget(Timestamps, Base):
    """One contact of one campaign: its attempts so far, when the next is due, and the call in progress."""

    __tablename__ = "dialer_targets"
    __table_args__ = (
        one_of("state", TARGET_STATES),
        one_of("skip_reason", SKIP_REASONS),
        Index("ix_dialer_targets_due", "campaign_id", "next_at", postgresql_where=text("state = 'pending'")),
        Index("ix_dialer_targets_dialing", "claimed_at", postgresql_where=text("state = 'dialing'")),
        Index("ix_dialer_targets_call_id", "call_id"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_at: Mapped[datetime | None]
    # The attempt claimed or in progress (a row in calls); kept after it ends, as the last attempt.
    call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    skip_reason: Mapped[str | None]


class DialerPump(Base):
    """Which worker pumps a campaign, by a lease it renews while it runs: a killed worker's lease runs out."""

    __tablename__ = "dialer_pumps"

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[uuid.UUID]
    lease_until: Mapped[datetime]


class DialerPacing(Base):
    """The pacing of one Twilio account, shared by every worker: a GCRA (the next free dial slot) under a row lock."""

    __tablename__ = "dialer_pacing"
    __table_args__ = (
        CheckConstraint("calls_per_second > 0", name="rate_positive"),
        CheckConstraint("max_concurrent > 0", name="concurrency_positive"),
    )

    account_sid: Mapped[str] = mapped_column(primary_key=True)
    calls_per_second: Mapped[float] = mapped_column(server_default=text("1"))
    max_concurrent: Mapped[int] = mapped_column(server_default=text("10"))
    next_slot_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # After a 429 nobody dials before this.
    backoff_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

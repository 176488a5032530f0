"""Calls placed through Twilio, the raw webhook log behind them, and SMS messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt, Imported, Timestamps, UUIDPrimaryKey, one_of, uuid7
from service.db.vocabulary import CALL_DIRECTIONS, CALL_OUTCOMES, CALL_STATUSES

LIVE_STATUSES_SQL = "('queued', 'initiated', 'ringing', 'in-progress')"
SMS_DIRECTIONS = ("inbound", "outbound")
SMS_STATUSES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "receiving",
    "received",
    "accepted",
    "read",
)


class Call(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "calls"
    __table_args__ = (
        one_of("status", CALL_STATUSES),
        one_of("direction", CALL_DIRECTIONS),
        one_of("outcome", CALL_OUTCOMES),
        CheckConstraint("duration_seconds >= 0", name="duration_not_negative"),
        Index("ix_calls_user_id_created_at", "user_id", text("created_at DESC")),
        Index("ix_calls_contact_id", "contact_id"),
        Index("ix_calls_campaign_id", "campaign_id"),
        # The dialer's guarantees, enforced by the database: one row per attempt at a contact, and never two
        # calls of one campaign in progress for one contact.
        Index(
            "uq_calls_dial_attempt",
            "campaign_id",
            "contact_id",
            "dial_attempt",
            unique=True,
            postgresql_where=text("dial_attempt IS NOT NULL"),
        ),
        Index(
            "uq_calls_dial_in_progress",
            "campaign_id",
            "contact_id",
            unique=True,
            postgresql_where=text(f"dial_attempt IS NOT NULL AND status IN {LIVE_STATUSES_SQL}"),
        ),
    )

    # Null only for rows imported from Firebase whose owner was missing there (reported as orphans).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Calls outlive the contact or campaign they came from: history stays, the link goes.
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    twilio_sid: Mapped[str | None] = mapped_column(unique=True)
    phone_number: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default="queued")
    direction: Mapped[str] = mapped_column(server_default="outbound-api")
    duration_seconds: Mapped[int | None]
    recording_sid: Mapped[str | None]
    recording_url: Mapped[str | None]
    transcript: Mapped[str | None]
    translated_transcript: Mapped[str | None]
    language: Mapped[str | None]
    # Historical data holds either a label or a map of scores.
    sentiment: Mapped[Any | None] = mapped_column(JSONB)
    outcome: Mapped[str | None]
    follow_up_status: Mapped[str | None]
    notes: Mapped[str | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # What the call says (placeholders already filled from the contact) and whether it records the answer.
    script: Mapped[str | None]
    recording_enabled: Mapped[bool] = mapped_column(server_default="false")
    # The highest SequenceNumber of Twilio's status callbacks applied so far: an older one changes nothing.
    last_sequence_number: Mapped[int | None]
    # Answering-machine detection's verdict: human, machine_start, machine_end_*, fax, unknown.
    answered_by: Mapped[str | None]
    credit_reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_reservations.id", ondelete="SET NULL")
    )
    # Placed by the campaign dialer: which attempt at the contact this is (1, 2, ...); null for other calls.
    dial_attempt: Mapped[int | None]
    # The dialer's answering-machine choice for this call: what to leave on a machine (null: hang up).
    voicemail_message: Mapped[str | None]


class CallEvent(Base):
    """Every Twilio status callback as received; (call_sid, sequence_number) makes redelivery harmless."""

    __tablename__ = "call_events"
    __table_args__ = (
        UniqueConstraint("call_sid", "sequence_number"),
        Index("ix_call_events_call_id", "call_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    call_sid: Mapped[str]
    sequence_number: Mapped[int | None]
    event_type: Mapped[str]
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class SmsMessage(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "sms_messages"
    __table_args__ = (
        one_of("direction", SMS_DIRECTIONS),
        one_of("status", SMS_STATUSES),
        Index("ix_sms_messages_user_id_created_at", "user_id", text("created_at DESC")),
        Index("ix_sms_messages_contact_id", "contact_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    twilio_sid: Mapped[str | None] = mapped_column(unique=True)
    direction: Mapped[str]
    from_number: Mapped[str | None]
    to_number: Mapped[str | None]
    body: Mapped[str]
    status: Mapped[str] = mapped_column(server_default="queued")
    error_code: Mapped[int | None]
    credit_reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_reservations.id", ondelete="SET NULL")
    )


class DoNotCallNumber(CreatedAt, Base):
    """An account's own do-not-call list: numbers its calls (and the dialer) must never ring."""

    __tablename__ = "do_not_call_numbers"
    __table_args__ = (CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(primary_key=True)
    reason: Mapped[str | None]

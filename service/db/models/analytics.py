"""Product analytics: imported events, the rollups the dashboard reads, and the activity feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, UniqueConstraint, func, text
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


# The figures a rollup row holds (docs/analytics.md defines each). Triggers on calls, contacts, sms_messages,
# credit_ledger and analytics_events keep them (migration 0009); the names must match its ROLLUP_COLUMNS.
COUNTERS = (
    "calls_made",
    "answered",
    "no_answer",
    "failed",
    "outcome_appointment_set",
    "outcome_interested",
    "outcome_not_interested",
    "outcome_callback",
    "outcome_voicemail",
    "outcome_no_answer",
    "outcome_other",
    "talk_seconds",
    "answered_seconds",
    "contacts_added",
    "sms_sent",
    "sms_received",
    "credits_spent",
    "ai_credits_spent",
)


def counter() -> Mapped[int]:
    return mapped_column(BigInteger, server_default="0")


class RollupCounters:
    """Owner (null: an orphan imported from Firebase), campaign (null: none or not a call), UTC quarter hour."""

    user_id: Mapped[uuid.UUID | None]
    campaign_id: Mapped[uuid.UUID | None]
    # Quarter hours, so that every zone's day and hour (whole, :30 and :45 offsets) is a union of buckets.
    bucket: Mapped[datetime]
    calls_made: Mapped[int] = counter()
    answered: Mapped[int] = counter()
    no_answer: Mapped[int] = counter()
    failed: Mapped[int] = counter()
    outcome_appointment_set: Mapped[int] = counter()
    outcome_interested: Mapped[int] = counter()
    outcome_not_interested: Mapped[int] = counter()
    outcome_callback: Mapped[int] = counter()
    outcome_voicemail: Mapped[int] = counter()
    outcome_no_answer: Mapped[int] = counter()
    outcome_other: Mapped[int] = counter()
    talk_seconds: Mapped[int] = counter()
    answered_seconds: Mapped[int] = counter()
    contacts_added: Mapped[int] = counter()
    sms_sent: Mapped[int] = counter()
    sms_received: Mapped[int] = counter()
    credits_spent: Mapped[int] = counter()
    ai_credits_spent: Mapped[int] = counter()


class AnalyticsRollup(RollupCounters, Base):
    """One row per key, folded from the deltas by the analytics.compact_rollups job."""

    __tablename__ = "analytics_rollups"
    __table_args__ = (
        UniqueConstraint("user_id", "bucket", "campaign_id", postgresql_nulls_not_distinct=True),
        Index("ix_analytics_rollups_bucket", "bucket"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)


class AnalyticsRollupDelta(RollupCounters, Base):
    """What one statement changed, appended by the triggers in the writer's transaction (never updated)."""

    __tablename__ = "analytics_rollup_deltas"
    __table_args__ = (
        Index("ix_analytics_rollup_deltas_user_id_bucket", "user_id", "bucket"),
        Index("ix_analytics_rollup_deltas_bucket", "bucket"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Written by the service (not the Firebase import): announced as an analytics.counters event at commit.
    live: Mapped[bool]


class AnalyticsActivity(Base):
    """The activity feed: calls finished, appointments set, campaigns started/completed, contacts added."""

    __tablename__ = "analytics_activity"
    __table_args__ = (Index("ix_analytics_activity_user_id_occurred_at_id", "user_id", "occurred_at", "id"),)

    # Pages are keyed by (occurred_at, id), as every list of the API is.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str]
    occurred_at: Mapped[datetime]
    # The call or campaign, named but not linked: the feed keeps its history when they go.
    subject_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    live: Mapped[bool]

"""Campaigns and the contacts they call."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, func, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, Imported, Timestamps, UUIDPrimaryKey, one_of
from service.db.vocabulary import CAMPAIGN_STATUSES


class Campaign(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        one_of("status", CAMPAIGN_STATUSES),
        Index(
            "ix_campaigns_user_id_created_at_id",
            "user_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    # Null only for rows imported from Firebase whose owner was missing there (reported as orphans).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str]
    description: Mapped[str | None]
    industry: Mapped[str | None]
    type: Mapped[str | None]
    script: Mapped[str | None]
    language: Mapped[str | None]
    translation_enabled: Mapped[bool] = mapped_column(server_default="false")
    response_language: Mapped[str | None]
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(server_default="draft")
    deleted_at: Mapped[datetime | None]


class CampaignContact(Base):
    __tablename__ = "campaign_contacts"
    __table_args__ = (Index("ix_campaign_contacts_contact_id", "contact_id"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
    position: Mapped[int | None]  # the contact's place in the imported contactIds array (export keeps the order)

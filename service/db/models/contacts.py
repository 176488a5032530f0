"""Contacts: the people a user calls."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, Imported, Timestamps, UUIDPrimaryKey, one_of, uuid7
from service.db.vocabulary import CONTACT_STATUSES

# ri_search_text() is created by the first migration: lower-cased, accent-free, immutable, so it can feed a
# stored column under a trigram index (case- and accent-insensitive partial matching).
SEARCH_TEXT = "ri_search_text(first_name, last_name, email, phone, company)"


class Contact(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        one_of("status", CONTACT_STATUSES),
        CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name="phone_e164"),
        # The list hot path: newest first per owner, live rows only.
        Index(
            "ix_contacts_user_id_created_at_id",
            "user_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_contacts_user_id_phone", "user_id", "phone", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_contacts_user_id_email", "user_id", "email", postgresql_where=text("deleted_at IS NULL")),
        Index("ix_contacts_tags", "tags", postgresql_using="gin"),
        Index(
            "ix_contacts_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    # The service always sends a UUIDv7; the database default serves other writers, such as the Fastify
    # reference of the side-by-side benchmark, which insert without an id (gen_random_uuid() exists on every
    # PostgreSQL we run; uuidv7() only from 18 on).
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid7, server_default=text("gen_random_uuid()"), sort_order=-10
    )
    # Null only for rows imported from Firebase whose owner was missing there (reported as orphans).
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    first_name: Mapped[str | None]
    last_name: Mapped[str | None]
    # E.164; an imported number that does not parse stays in extra["phoneRaw"].
    phone: Mapped[str | None]
    email: Mapped[str | None]
    company: Mapped[str | None]
    job_title: Mapped[str | None]
    industry: Mapped[str | None]
    notes: Mapped[str | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    source: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default="new")
    timezone: Mapped[str | None]
    search_text: Mapped[str] = mapped_column(Computed(SEARCH_TEXT, persisted=True))
    deleted_at: Mapped[datetime | None]
    # Set by an SMS opt-out (STOP) or a Twilio error meaning the number cannot be reached; START clears it.
    opted_out_at: Mapped[datetime | None]

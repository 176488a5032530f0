"""Bookkeeping of the Firebase import: runs, checkpoints, recorded digests, dead letters, and documents of
unknown collections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt, UUIDPrimaryKey, one_of

RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")


class EtlRun(UUIDPrimaryKey, Base):
    __tablename__ = "etl_runs"
    __table_args__ = (one_of("status", RUN_STATUSES),)

    command: Mapped[str]
    snapshot: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default="running")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    report: Mapped[dict[str, Any]] = mapped_column(server_default="{}")


class EtlCheckpoint(Base):
    """How far the load of one collection got; a rerun resumes after `position`."""

    __tablename__ = "etl_checkpoints"

    snapshot_id: Mapped[str] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(server_default="0")
    counts: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    updated_at: Mapped[datetime]


class EtlDocument(Base):
    """What the last load of a source document recorded: the digest of its source (its snapshot line, with
    its Auth user for a profile) and of the row it had to become (null when it was rejected). Verify
    compares the snapshot with ``source_digest`` and the table row with ``want``."""

    __tablename__ = "etl_documents"

    stage: Mapped[str] = mapped_column(primary_key=True)
    document_path: Mapped[str] = mapped_column(primary_key=True)
    source_digest: Mapped[str]
    firebase_id: Mapped[str | None]
    want: Mapped[str | None]


class EtlDeadLetter(UUIDPrimaryKey, CreatedAt, Base):
    """A source document that could not be loaded, kept whole with the reason."""

    __tablename__ = "etl_dead_letters"
    __table_args__ = (
        UniqueConstraint("collection", "document_path"),
        Index("ix_etl_dead_letters_run_id", "run_id"),
    )

    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))
    collection: Mapped[str]
    document_path: Mapped[str]
    reason: Mapped[str]
    document: Mapped[dict[str, Any]]


class FirestoreDocument(UUIDPrimaryKey, Base):
    """Documents of collections with no table of their own, kept typed so export can write them back."""

    __tablename__ = "firestore_documents"
    __table_args__ = (Index("ix_firestore_documents_collection", "collection"),)

    firebase_id: Mapped[str] = mapped_column(unique=True)
    collection: Mapped[str]
    fields: Mapped[dict[str, Any]]
    create_time: Mapped[datetime | None]
    update_time: Mapped[datetime | None]

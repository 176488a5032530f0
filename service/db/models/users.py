"""Users, their login sessions, refresh tokens, password resets, throttles and credit ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from service.db.models.base import Base, CreatedAt, Imported, Timestamps, UUIDPrimaryKey, one_of
from service.db.vocabulary import USER_ROLES

CREDIT_KINDS = ("grant", "debit", "refund", "import", "adjustment")


class User(UUIDPrimaryKey, Timestamps, Imported, Base):
    __tablename__ = "users"
    __table_args__ = (
        one_of("role", USER_ROLES),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("credits >= 0", name="credits_not_negative"),
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    email: Mapped[str] = mapped_column(unique=True)
    full_name: Mapped[str | None]
    company_name: Mapped[str | None]
    phone: Mapped[str | None]
    industry: Mapped[str | None]
    preferred_language: Mapped[str | None]
    company_description: Mapped[str | None]
    company_website: Mapped[str | None]
    products_services: Mapped[str | None]
    target_market: Mapped[str | None]
    sales_pitch: Mapped[str | None]
    profile_picture: Mapped[str | None]
    # The SPA's settings page (notifications, interface language, theme), as PUT /api/user/settings stores them.
    settings: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    role: Mapped[str] = mapped_column(server_default="customer")
    credits: Mapped[int] = mapped_column(server_default="0")
    email_verified: Mapped[bool] = mapped_column(server_default="false")
    disabled: Mapped[bool] = mapped_column(server_default="false")
    auth_providers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    last_sign_in_at: Mapped[datetime | None]
    # argon2id PHC string; null until the user has a password in this system.
    password_hash: Mapped[str | None]
    password_changed_at: Mapped[datetime | None]
    # Firebase modified-scrypt hash and salt (standard base64), cleared by the first successful login.
    legacy_password_hash: Mapped[str | None]
    legacy_password_salt: Mapped[str | None]
    # Set for imported users with no usable hash (Google/phone sign-in, or hash not exported).
    password_reset_required: Mapped[bool] = mapped_column(server_default="false")


class AuthSession(UUIDPrimaryKey, CreatedAt, Base):
    """One login: a family of refresh tokens. Revoking it ends every access token that names it."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index("ix_auth_sessions_user_id", "user_id"),
        Index("ix_auth_sessions_revoked_at", "revoked_at", postgresql_where=text("revoked_at IS NOT NULL")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None]
    user_agent: Mapped[str | None]
    ip_address: Mapped[str | None]


class RefreshToken(UUIDPrimaryKey, CreatedAt, Base):
    """Only the SHA-256 of the opaque token is stored. A used token presented again revokes its session."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PasswordResetToken(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "password_reset_tokens"
    __table_args__ = (Index("ix_password_reset_tokens_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RateLimitCounter(Base):
    """Fixed-window counters shared by every instance (updated with INSERT .. ON CONFLICT .. RETURNING)."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_window_ends_at", "window_ends_at"),)

    key: Mapped[str] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(server_default="0")
    window_ends_at: Mapped[datetime]


class CreditLedgerEntry(UUIDPrimaryKey, CreatedAt, Base):
    """Every change of a user's credits; users.credits is the running balance it explains."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        one_of("kind", CREDIT_KINDS),
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        CheckConstraint("balance_after >= 0", name="balance_not_negative"),
        Index("ix_credit_ledger_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str]
    reason: Mapped[str | None]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(server_default="{}")

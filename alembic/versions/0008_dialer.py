"""The campaign dialer: dialing rules, targets, shared pacing; calls know their attempt.

Revision ID: 0008
Revises: 0013
Create Date: 2026-12-02 10:19:50
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialer_pacing",
        sa.Column("account_sid", sa.Text(), nullable=False),
        sa.Column("calls_per_second", sa.Double(), server_default=sa.text("1"), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), server_default=sa.text("10"), nullable=False),
        sa.Column("next_slot_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("calls_per_second > 0", name=op.f("ck_dialer_pacing_rate_positive")),
        sa.CheckConstraint("max_concurrent > 0", name=op.f("ck_dialer_pacing_concurrency_positive")),
        sa.PrimaryKeyConstraint("account_sid", name=op.f("pk_dialer_pacing")),
    )
    op.create_table(
        "dialer_pumps",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("holder", sa.Uuid(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_dialer_pumps_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_dialer_pumps")),
    )
    op.create_table(
        "dialer_rules",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("calling_start", sa.Time(), server_default=sa.text("'08:00'"), nullable=False),
        sa.Column("calling_end", sa.Time(), server_default=sa.text("'21:00'"), nullable=False),
        sa.Column(
            "calling_days",
            postgresql.ARRAY(sa.SmallInteger()),
            server_default=sa.text("'{1,2,3,4,5,6,7}'"),
            nullable=False,
        ),
        sa.Column("retry_delay_seconds", sa.Integer(), server_default=sa.text("3600"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("3"), nullable=False),
        sa.Column("machine_detection", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("voicemail_action", sa.Text(), server_default=sa.text("'hangup'"), nullable=False),
        sa.Column("voicemail_message", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "calling_days <@ '{1,2,3,4,5,6,7}'::smallint[]", name=op.f("ck_dialer_rules_calling_days_iso")
        ),
        sa.CheckConstraint(
            "voicemail_action IN ('hangup', 'message')", name=op.f("ck_dialer_rules_voicemail_action_valid")
        ),
        sa.CheckConstraint("calling_start < calling_end", name=op.f("ck_dialer_rules_window_not_empty")),
        sa.CheckConstraint("max_attempts BETWEEN 1 AND 10", name=op.f("ck_dialer_rules_max_attempts_range")),
        sa.CheckConstraint("retry_delay_seconds >= 0", name=op.f("ck_dialer_rules_retry_delay_not_negative")),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_dialer_rules_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_dialer_rules")),
    )
    op.create_table(
        "dialer_targets",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "skip_reason IN ('opted_out', 'do_not_call', 'no_phone', 'no_timezone', 'no_calling_hours')",
            name=op.f("ck_dialer_targets_skip_reason_valid"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'dialing', 'done', 'skipped', 'canceled')", name=op.f("ck_dialer_targets_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_dialer_targets_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_dialer_targets_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_dialer_targets_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_dialer_targets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id", name=op.f("pk_dialer_targets")),
    )
    op.create_index("ix_dialer_targets_call_id", "dialer_targets", ["call_id"], unique=False)
    op.create_index(
        "ix_dialer_targets_dialing",
        "dialer_targets",
        ["claimed_at"],
        unique=False,
        postgresql_where=sa.text("state = 'dialing'"),
    )
    op.create_index(
        "ix_dialer_targets_due",
        "dialer_targets",
        ["campaign_id", "next_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.add_column("calls", sa.Column("dial_attempt", sa.Integer(), nullable=True))
    op.add_column("calls", sa.Column("voicemail_message", sa.Text(), nullable=True))
    op.create_index(
        "uq_calls_dial_attempt",
        "calls",
        ["campaign_id", "contact_id", "dial_attempt"],
        unique=True,
        postgresql_where=sa.text("dial_attempt IS NOT NULL"),
    )
    op.create_index(
        "uq_calls_dial_in_progress",
        "calls",
        ["campaign_id", "contact_id"],
        unique=True,
        postgresql_where=sa.text(
            "dial_attempt IS NOT NULL AND status IN ('queued', 'initiated', 'ringing', 'in-progress')"
        ),
    )


def downgrade() -> None:
    op.drop_index("uq_calls_dial_in_progress", table_name="calls")
    op.drop_index("uq_calls_dial_attempt", table_name="calls")
    op.drop_column("calls", "voicemail_message")
    op.drop_column("calls", "dial_attempt")
    op.drop_index("ix_dialer_targets_due", table_name="dialer_targets", postgresql_where=sa.text("state = 'pending'"))
    op.drop_index(
        "ix_dialer_targets_dialing", table_name="dialer_targets", postgresql_where=sa.text("state = 'dialing'")
    )
    op.drop_index("ix_dialer_targets_call_id", table_name="dialer_targets")
    op.drop_table("dialer_targets")
    op.drop_table("dialer_rules")
    op.drop_table("dialer_pumps")
    op.drop_table("dialer_pacing")

"""Calls and SMS: credit reservations, opt-out, the do-not-call list, webhook ordering columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="reserved", nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_credit_reservations_amount_not_negative")),
        sa.CheckConstraint(
            "status IN ('reserved', 'charged', 'refunded')", name=op.f("ck_credit_reservations_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_credit_reservations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_reservations")),
    )
    op.create_index("ix_credit_reservations_user_id", "credit_reservations", ["user_id"])
    op.create_index(
        "ix_credit_reservations_open",
        "credit_reservations",
        ["created_at"],
        postgresql_where=sa.text("status = 'reserved'"),
    )
    op.create_table(
        "do_not_call_numbers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(r"phone ~ '^\+[1-9][0-9]{1,14}$'", name=op.f("ck_do_not_call_numbers_phone_e164")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_do_not_call_numbers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "phone", name=op.f("pk_do_not_call_numbers")),
    )
    op.add_column("contacts", sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("calls", sa.Column("script", sa.Text(), nullable=True))
    op.add_column("calls", sa.Column("recording_enabled", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("calls", sa.Column("last_sequence_number", sa.Integer(), nullable=True))
    op.add_column("calls", sa.Column("answered_by", sa.Text(), nullable=True))
    op.add_column("calls", sa.Column("credit_reservation_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_calls_credit_reservation_id_credit_reservations"),
        "calls",
        "credit_reservations",
        ["credit_reservation_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("sms_messages", sa.Column("error_code", sa.Integer(), nullable=True))
    op.add_column("sms_messages", sa.Column("credit_reservation_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_sms_messages_credit_reservation_id_credit_reservations"),
        "sms_messages",
        "credit_reservations",
        ["credit_reservation_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_sms_messages_credit_reservation_id_credit_reservations"), "sms_messages", type_="foreignkey"
    )
    op.drop_column("sms_messages", "credit_reservation_id")
    op.drop_column("sms_messages", "error_code")
    op.drop_constraint(op.f("fk_calls_credit_reservation_id_credit_reservations"), "calls", type_="foreignkey")
    op.drop_column("calls", "credit_reservation_id")
    op.drop_column("calls", "answered_by")
    op.drop_column("calls", "last_sequence_number")
    op.drop_column("calls", "recording_enabled")
    op.drop_column("calls", "script")
    op.drop_column("contacts", "opted_out_at")
    op.drop_table("do_not_call_numbers")
    op.drop_index("ix_credit_reservations_open", table_name="credit_reservations")
    op.drop_index("ix_credit_reservations_user_id", table_name="credit_reservations")
    op.drop_table("credit_reservations")

"""AI: post-call analyses (one per call).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
# After the calls revision on this branch (it references credit_reservations); the lead re-chains at merge.
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_analyses",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("credit_reservation_id", sa.Uuid(), nullable=True),
        sa.Column("credits", sa.Integer(), nullable=True),
        sa.Column("sentiment", sa.Text(), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("suggested_outcome", sa.Text(), nullable=True),
        sa.Column("follow_up_suggestion", sa.Text(), nullable=True),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'done', 'skipped')", name=op.f("ck_call_analyses_status_valid")),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_analyses_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_analyses_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["credit_reservation_id"],
            ["credit_reservations.id"],
            name=op.f("fk_call_analyses_credit_reservation_id_credit_reservations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_analyses")),
    )
    op.create_index("ix_call_analyses_user_id", "call_analyses", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_call_analyses_user_id", table_name="call_analyses")
    op.drop_table("call_analyses")

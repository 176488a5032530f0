"""ETL second pass: runs can be marked interrupted; membership rows keep their place in the source array.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_etl_runs_status_valid"), "etl_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_etl_runs_status_valid"), "etl_runs", "status IN ('running', 'succeeded', 'failed', 'interrupted')"
    )
    op.add_column("campaign_contacts", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column("chat_participants", sa.Column("position", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("chat_participants", "position")
    op.drop_column("campaign_contacts", "position")
    op.execute("UPDATE etl_runs SET status = 'failed' WHERE status = 'interrupted'")
    op.drop_constraint(op.f("ck_etl_runs_status_valid"), "etl_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_etl_runs_status_valid"), "etl_runs", "status IN ('running', 'succeeded', 'failed')"
    )

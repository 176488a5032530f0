"""ETL: what each load recorded of every source document, so verify needs no second transform.

Revision ID: 0013
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "etl_documents",
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("document_path", sa.Text(), nullable=False),
        sa.Column("source_digest", sa.Text(), nullable=False),
        sa.Column("firebase_id", sa.Text(), nullable=True),
        sa.Column("want", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("stage", "document_path", name=op.f("pk_etl_documents")),
    )


def downgrade() -> None:
    op.drop_table("etl_documents")

"""Chat: message type, metadata and client ids (idempotent sends), soft-deleted rooms.

Revision ID: 0006
Revises: 0007 (0001 as filed; chained after the head of main so the branch has one head)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chat_rooms", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("chat_messages", sa.Column("type", sa.Text(), server_default="text", nullable=False))
    op.add_column(
        "chat_messages",
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
    )
    op.add_column("chat_messages", sa.Column("client_id", sa.Uuid(), nullable=True))
    op.create_check_constraint(
        op.f("ck_chat_messages_type_valid"), "chat_messages", "type IN ('text', 'image', 'file')"
    )
    op.create_unique_constraint(
        op.f("uq_chat_messages_sender_id_client_id"), "chat_messages", ["sender_id", "client_id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_chat_messages_sender_id_client_id"), "chat_messages", type_="unique")
    op.drop_constraint(op.f("ck_chat_messages_type_valid"), "chat_messages", type_="check")
    op.drop_column("chat_messages", "client_id")
    op.drop_column("chat_messages", "metadata")
    op.drop_column("chat_messages", "type")
    op.drop_column("chat_rooms", "deleted_at")

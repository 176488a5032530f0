"""Platform: the job queue (pgqueuer's own schema) and the real-time events table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_only

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_script(sql: str) -> None:
    """pgqueuer's DDL is one script (a function body included); asyncpg runs it unprepared, in this transaction."""
    driver_connection = op.get_bind().connection.driver_connection
    assert driver_connection is not None
    await_only(driver_connection.execute(sql))


def upgrade() -> None:
    # The schema of the pinned pgqueuer (pyproject.toml). A pgqueuer upgrade comes with a migration of its own that
    # applies what `Queries.plan_upgrade()` lists; alembic/env.py keeps these tables out of autogenerate.
    _run_script(QueryBuilderEnvironment().build_install_query())
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("audience", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_created_at", "events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_created_at", table_name="events")
    op.drop_table("events")
    _run_script(QueryBuilderEnvironment().build_uninstall_query())

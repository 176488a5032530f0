"""Analytics: a first Firebase import counts its contacts and calls once, at the end of their stage.

In a session whose `reachimpact.analytics_deferred` setting names the table, the rollup triggers of contacts and
calls append no delta rows, and those of contacts no `contacts.added` activity row. Only the ETL loader sets it,
for a stage that starts on an empty table; that stage's last transaction appends the deltas that make the
table's figures equal a recount of its rows, and one `contacts.added` per owner (etl/load/rollups.py). Row by
row, per batch of 5,000, the triggers were about half of those stages' database time at 1M documents. Every
other session, and every other table, counts as before.

Revision ID: 0014
Revises: 0008
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0014"
down_revision = "0008"
branch_labels = None
depends_on = None

# The functions as migration 0009 defines them, which this one wraps.
rollups = import_module("reachimpact_alembic.versions.0009_analytics_rollups")
DEFERRABLE = ("contacts", "calls")


def deferrable_function(table: str) -> str:
    """0009's trigger function of ``table``, with the statements a deferring session skips in an IF."""
    function = rollups.trigger_function(table).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    skipped = [rollups.delta_insert(table, op_name) for op_name in rollups.OPERATIONS]
    if table == "contacts":
        skipped += rollups.activity(table, "INSERT")
    for statement in skipped:
        assert statement in function, statement
        function = function.replace(
            statement,
            # IS DISTINCT FROM: the setting is NULL in a session that never set it.
            f"IF current_setting('reachimpact.analytics_deferred', true) IS DISTINCT FROM '{table}' THEN\n"
            f"{statement}\nEND IF;",
        )
    return function


def upgrade() -> None:
    for table in DEFERRABLE:
        op.execute(deferrable_function(table))


def downgrade() -> None:
    for table in DEFERRABLE:
        op.execute(rollups.trigger_function(table).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))

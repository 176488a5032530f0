"""A first import counts its contacts and calls for analytics once, at the end of their stage.

The analytics triggers (docs/analytics.md) append, per statement, one delta row per owner, campaign and UTC
quarter hour it moved, and for contacts one `contacts.added` activity row per owner. For a batch of 5,000
imported contacts created over a year that is about 5,000 and 4,000 rows, and the triggers were about half of
the batch's database time. So a stage that starts on an empty contacts or calls table defers them: the loader's
session names the table in `reachimpact.analytics_deferred`, and the triggers skip those rows in that session
only (migration 0014). Once the stage is done, ``finishing`` appends, in one statement, the deltas that make the
table's figures equal a recount of its rows, and one `contacts.added` per owner for the imported contacts.

The recount is exact whatever else wrote meanwhile: the service's writes are counted by their own triggers in
their own transactions, and one statement sees the rows, the rollups and the deltas in one snapshot. Until that
count, the imported rows are not in the figures yet. The deferral is a ``deferrals`` record,
``analytics:<table>``, so a killed stage's rerun keeps deferring, and a load killed before the count leaves
it to the next load (``finishing``).
"""

# ruff: noqa: S608 - table and column names come from the definitions in code

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from etl.load import deferrals
from service.analytics.repository import TABLE_FACTS, facts

SETTING = "reachimpact.analytics_deferred"
QUARTER = "date_bin('15 minutes', {0}, timestamptz '2000-01-01 00:00+00')"  # the triggers' bucket


def _collection(table: str) -> str:
    return f"analytics:{table}"


async def defer(db: asyncpg.Connection, table: str) -> None:
    """Record that this stage counts ``table`` at its end, if the table is empty (the stage's first batch)."""
    if table not in TABLE_FACTS:
        return
    async with db.transaction():
        if await deferrals.is_empty(db, table):
            await deferrals.record(db, _collection(table), {})


@asynccontextmanager
async def deferred(db: asyncpg.Connection, table: str) -> AsyncIterator[None]:
    """While the stage runs: the triggers skip ``table``'s counts in this session if it is recorded deferred."""
    if table not in TABLE_FACTS or await deferrals.recorded(db, _collection(table)) is None:
        yield
        return
    await db.execute("SELECT set_config($1, $2, false)", SETTING, table)
    try:
        yield
    finally:
        await db.execute("SELECT set_config($1, '', false)", SETTING)


async def count(db: asyncpg.Connection, table: str) -> None:
    """Count a deferred ``table`` and forget the record, in the caller's transaction (``finishing``)."""
    if not await deferrals.forget(db, _collection(table)):
        return
    await db.execute(reconcile(table))
    if table == "contacts":
        await db.execute(CONTACTS_ADDED)


def reconcile(table: str) -> str:
    """The deltas that make ``table``'s figures (rollups plus deltas) equal a recount of its rows."""
    campaign, at, measures = TABLE_FACTS[table]
    columns = list(measures)
    negated = ", ".join(f"-{c}" for c in columns)
    recorded = " OR ".join(f"{c} <> 0" for c in columns)
    moved = " OR ".join(f"sum({c}) <> 0" for c in columns)
    return f"""
INSERT INTO analytics_rollup_deltas (user_id, campaign_id, bucket, live, {", ".join(columns)})
SELECT user_id, campaign_id, bucket, false, {", ".join(f"sum({c})" for c in columns)} FROM (
  SELECT user_id, campaign_id, {QUARTER.format("at")} AS bucket, {", ".join(columns)}
  FROM ({facts(table, campaign, at, measures)}) f
  UNION ALL SELECT user_id, campaign_id, bucket, {negated} FROM analytics_rollups WHERE {recorded}
  UNION ALL SELECT user_id, campaign_id, bucket, {negated} FROM analytics_rollup_deltas WHERE {recorded}
) d
GROUP BY user_id, campaign_id, bucket HAVING {moved}
ORDER BY user_id, bucket  -- the deltas' (user_id, bucket) index is then filled in order
"""


# One entry per owner for the stage, dated by its newest contact: history, like every imported row (not live).
# The table was empty when the stage began, so its imported contacts are the stage's.
CONTACTS_ADDED = """
INSERT INTO analytics_activity (user_id, kind, occurred_at, subject_id, data, live)
SELECT user_id, 'contacts.added', max(created_at), NULL, jsonb_build_object('count', count(*)), false
FROM contacts WHERE firebase_id IS NOT NULL AND user_id IS NOT NULL GROUP BY user_id
"""

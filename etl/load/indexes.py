"""A first import builds a table's secondary indexes once, after its rows, instead of row by row.

Inserting into an empty table with all its indexes kept each batch updating them at random places (a GIN
trigram index, user/contact/campaign keys): at 1M documents that was a third of PostgreSQL's time, and
building them at the end of the stage takes seconds. So when a stage starts from scratch on an empty
table, its non-unique indexes are dropped and their definitions recorded, in one transaction; once the
stage is done they are built again (``finishing``). Unique indexes and those behind constraints stay:
the upsert and the duplicate checks rely on them.

The record is a ``deferrals`` one, ``indexes:<table>``. A load killed or failed before they are built leaves
the indexes dropped; the next load builds them once all its stages are done (or at the end of its own stage
for that table, if it starts one from scratch: ``_defer`` keeps the earlier definitions).
"""

from __future__ import annotations

import contextlib

import asyncpg

from etl.load import deferrals

DEFERRABLE = """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = $1::regclass AND NOT i.indisunique AND NOT i.indisexclusion AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""


async def defer(db: asyncpg.Connection, table: str) -> None:
    """Drop the table's secondary indexes if it is empty, recording how to build them again.

    A role that does not own the table keeps them (and loads as fast as before)."""
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await _defer(db, table)


async def _defer(db: asyncpg.Connection, table: str) -> None:
    async with db.transaction():
        if not await deferrals.is_empty(db, table):
            return
        found = await db.fetch(DEFERRABLE, table)
        if not found:
            return
        for index in found:
            await db.execute(f"DROP INDEX {index['name']}")
        # A record may be there already, of indexes a killed stage left dropped (some of them built since).
        collection = f"indexes:{table}"
        earlier = (await deferrals.recorded(db, collection) or {}).get("indexes", [])
        await deferrals.forget(db, collection)
        definitions = list(dict.fromkeys([*earlier, *(i["definition"] for i in found)]))
        await deferrals.record(db, collection, {"indexes": definitions})


async def build(db: asyncpg.Connection, table: str) -> None:
    """Build the table's recorded indexes and forget the record, in the caller's transaction."""
    collection = f"indexes:{table}"
    record = await deferrals.recorded(db, collection)
    if record is None:
        return
    for definition in record.get("indexes", []):
        # IF NOT EXISTS: built before a kill, or by hand meanwhile (only non-unique ones are deferred).
        await db.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    await deferrals.forget(db, collection)

"""A first import builds a table's secondary indexes once, after its rows, instead of row by row.

Inserting into an empty table with all its indexes kept each batch updating them at random places (a GIN
trigram index, user/contact/campaign keys): at 1M documents that was a third of PostgreSQL's time, and
building them at the end of the stage takes seconds. So when a stage starts from scratch on an empty
table, its non-unique indexes are dropped and their definitions recorded, in one transaction; the stage's
last transaction builds them again and marks it done. Unique indexes and those behind constraints stay:
the upsert and the duplicate checks rely on them.

The record is a ``deferrals`` one, ``indexes:<table>``. A load killed or failed in such a stage leaves the
indexes dropped; the next load's stage for that table (resumed, restarted, or of another snapshot) builds them
when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from etl.load import deferrals

# (table, statements) -> once ``table`` is locked on another connection, the future of building them there
Aside = Callable[[str, list[str]], Awaitable[asyncio.Future[Any]]]

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


@asynccontextmanager
async def building(db: asyncpg.Connection, table: str, aside: Aside | None = None) -> AsyncIterator[None]:
    """Build the table's recorded indexes and forget the record, in the caller's transaction (the stage's last).

    With ``aside`` (the staging worker's connection), its GIN indexes are built there meanwhile: at 1M
    documents the contacts' trigram and tag indexes took 5-7 s of the 7 s, and the body (the stage's analytics
    count) runs beside them. They commit on their own there; a kill before the caller's commit leaves the
    record, and the next build skips what exists. The worker takes its SHARE lock on the table before this
    session takes any: a service write queued between the two would otherwise make the worker wait for this
    session, which waits for the worker, and no server sees that cycle.
    """
    collection = f"indexes:{table}"
    record = await deferrals.recorded(db, collection)
    # IF NOT EXISTS: built by hand meanwhile, or aside before a kill (only non-unique ones are deferred).
    definitions = [
        d.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1) for d in (record or {}).get("indexes", [])
    ]
    elsewhere = [d for d in definitions if aside and " USING gin " in d]
    pending = await aside(table, elsewhere) if aside and elsewhere else None
    try:
        for definition in definitions:
            if definition not in elsewhere:
                await db.execute(definition)
        yield
    finally:
        if pending:
            await asyncio.wait([pending])
    if pending:
        pending.result()  # a failed build fails the stage's last transaction
    if record is not None:
        await deferrals.forget(db, collection)

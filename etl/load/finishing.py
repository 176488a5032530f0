"""A finished stage's deferred work (``indexes``, ``rollups``), done on a connection of its own while the next
stages load.

A first import builds a table's secondary indexes and counts its analytics once, after its rows. Done in the
stage's last transaction, the load waited for it: 6-7 s at the end of 600k contacts (the trigram index alone
took 5.4 s), with the staging worker and the load's session idle. So the stage's last transaction commits its
rows and checkpoint, and a second session then builds the table's recorded indexes and counts its analytics,
in one transaction, while the next stages load. It starts after the last stage that writes the table
(``FINAL_STAGE``: users has two), so the later stages only read it, and their SHARE locks are compatible with
the builds'. The finished stages queue there one after another.

It then analyzes the table (and its membership table), outside that transaction: a fresh import left them
without statistics until autovacuum came by, so the service's first queries planned blind and verify analyzed
them on its own path (2 s at 1M documents). A later stage's SHARE lock on the table waits for that ANALYZE
(under a second for 600k contacts).

The load waits for the queue before it reports success, and fails if a build failed; then, every stage being
done, it finishes what a killed load left recorded (a kill before the second session's commit leaves the
records, and the indexes built before it stay: the builds use ``CREATE INDEX IF NOT EXISTS``). Without a
database URL (a load handed only a connection) the work is done on the load's session, after each stage's
last transaction.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from etl.load import deferrals, indexes, rollups
from etl.load.session import prepare_session
from etl.load.sql import Mapping
from service.db.pool import connect

KINDS = ["indexes", "analytics"]  # the deferrals a finished stage leaves to this module


class Finisher:
    def __init__(self, db: asyncpg.Connection, dsn: str | None) -> None:
        self.db = db
        self._dsn = dsn
        self._own: asyncpg.Connection | None = None
        self._queue: asyncio.Future[Any] | None = None

    async def stage_done(self, mapping: Mapping) -> None:
        """The last stage that writes the mapping's table has committed: build its indexes, count its
        analytics, and gather its statistics (and its membership table's)."""
        tables = [mapping.table, *([mapping.members.table] if mapping.members else [])]
        if self._dsn is None:
            await finish(self.db, mapping.table, analyze=tables)
            return
        if self._own is None:
            self._own = await connect(self._dsn)
            await prepare_session(self._own)
        self._queue = asyncio.ensure_future(self._after(self._queue, self._own, mapping.table, tables))

    @staticmethod
    async def _after(
        earlier: asyncio.Future[Any] | None, db: asyncpg.Connection, table: str, analyze: list[str]
    ) -> None:
        if earlier is not None:
            await earlier  # a failed one fails those after it: the load reports the first failure
        await finish(db, table, analyze=analyze)

    async def close(self, *, all_done: bool) -> None:
        """Wait for the queued work (raising its failure). ``all_done`` (every stage is): then finish what
        a killed load left recorded."""
        try:
            if self._queue is not None:
                await self._queue
            if all_done:
                for table in await deferrals.tables(self.db, KINDS):
                    await finish(self.db, table)
        finally:
            if self._own is not None:
                await self._own.close()


async def finish(db: asyncpg.Connection, table: str, analyze: list[str] | None = None) -> None:
    """Build the table's recorded indexes and count its deferred analytics, in one transaction; then
    ``ANALYZE`` the tables in ``analyze``."""
    async with db.transaction():
        await indexes.build(db, table)
        await rollups.count(db, table)
    if analyze:
        await db.execute(f"ANALYZE {', '.join(analyze)}")

"""Work a first import defers until a table is loaded (``indexes``, ``rollups``), recorded so that it is not lost.

A record is an ``etl_checkpoints`` row under the snapshot id ``DEFERRED`` (not a snapshot's, so ``--restart``
or another snapshot never loses it), one per ``<kind>:<table>``, written in the transaction that defers the work
and deleted in the one that does it. A load killed in between leaves it, and the next load finishes the work
(``finishing``).
"""

# ruff: noqa: S608 - table names come from the specs in code

from __future__ import annotations

from typing import Any

import asyncpg

DEFERRED = "deferred-indexes"  # the records' snapshot id (named when only indexes were deferred)
WHERE = "WHERE snapshot_id = $1 AND collection = $2"


async def is_empty(db: asyncpg.Connection, table: str) -> bool:
    return not await db.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})")


async def record(db: asyncpg.Connection, collection: str, details: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO etl_checkpoints (snapshot_id, collection, position, counts, updated_at) "
        "VALUES ($1, $2, 0, $3, now())",
        DEFERRED,
        collection,
        details,
    )


async def recorded(db: asyncpg.Connection, collection: str) -> dict[str, Any] | None:
    """The record's details, or None when nothing is deferred."""
    return await db.fetchval(f"SELECT counts FROM etl_checkpoints {WHERE}", DEFERRED, collection)


async def tables(db: asyncpg.Connection, kinds: list[str]) -> list[str]:
    """The tables with a record of any of these kinds."""
    collections = await db.fetch(
        "SELECT collection FROM etl_checkpoints WHERE snapshot_id = $1 AND split_part(collection, ':', 1) = ANY($2)",
        DEFERRED,
        kinds,
    )
    return sorted({row["collection"].split(":", 1)[1] for row in collections})


async def forget(db: asyncpg.Connection, collection: str) -> bool:
    """Delete the record; whether there was one."""
    return await db.execute(f"DELETE FROM etl_checkpoints {WHERE}", DEFERRED, collection) != "DELETE 0"

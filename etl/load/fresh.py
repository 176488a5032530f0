"""A stage's first import: none of its documents has a row or a record yet, so it inserts without upserting.

Decided when the stage starts from scratch (its target table empty and no ``etl_documents`` record of the
stage), and kept as a ``deferrals`` record, ``fresh:<stage>``, so a killed stage's rerun decides the same;
the stage's last transaction forgets it. Then the batches use ``Statements.insert``, which skips the index
searches of ``ON CONFLICT``. A row that exists after all (the same path twice in a snapshot) makes the
batch fail; it is then written again with the upsert, so the outcome never depends on the decision.
"""

from __future__ import annotations

import asyncpg

from etl.load import deferrals


def _collection(stage: str) -> str:
    return f"fresh:{stage}"


async def decide(db: asyncpg.Connection, stage: str, table: str, start: int) -> bool:
    """Whether the stage's batches may use plain inserts; decided anew when it starts from its first document."""
    if start == 0:
        async with db.transaction():
            await deferrals.forget(db, _collection(stage))
            if await deferrals.is_empty(db, table) and not await db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM etl_documents WHERE stage = $1)", stage
            ):
                await deferrals.record(db, _collection(stage), {})
    return await deferrals.recorded(db, _collection(stage)) is not None


async def forget(db: asyncpg.Connection, stage: str) -> None:
    """In the stage's last transaction."""
    await deferrals.forget(db, _collection(stage))

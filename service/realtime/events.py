"""Events: rows written in the transaction of their cause, announced by a NOTIFY that carries only the id.

Ids follow commit order. A plain sequence does not: a transaction that took id 10 may commit after the one that
took 11, and a browser resuming "after 11" would never see 10. So publishers take one transaction-scoped
advisory lock before the row gets its id; the next publisher gets its id only once this one has committed (or
rolled back). The lock is held from publish() to commit, so publish last in a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import asyncpg

CHANNEL = "ri_events"
# Any constant; the same in every process.
PUBLISH_LOCK_ID = 0x52494556  # "RIEV"
# A browser that comes back later than this after its last event gets a "reload" event instead of a replay.
RETENTION = timedelta(hours=1)

INSERT_AND_NOTIFY = """
WITH event AS (INSERT INTO events (audience, type, data) VALUES ($1, $2, $3) RETURNING id)
SELECT id, pg_notify($4, id::text) FROM event
"""


async def publish(conn: asyncpg.Connection, audience: Iterable[uuid.UUID], type: str, data: Any) -> int:
    """Write an event for `audience` (user ids) inside the caller's transaction; returns its id.

    `data` is anything msgspec encodes (dicts, structs). Browsers get it when the transaction commits, never
    if it rolls back.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("publish() belongs inside the transaction of the change it announces")
    users = list(dict.fromkeys(audience))
    if not users:
        raise ValueError("an event needs at least one user in its audience")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PUBLISH_LOCK_ID)
    row = await conn.fetchrow(INSERT_AND_NOTIFY, users, type, data, CHANNEL)
    assert row is not None
    return int(row[0])

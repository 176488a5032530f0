"""The rollups as the routes read them, and a recount from the raw rows, per (owner, campaign, quarter hour)."""

from __future__ import annotations

from service.analytics import repository
from service.db.models.analytics import COUNTERS

QUARTER = "date_bin('15 minutes', at, timestamptz '2000-01-01 00:00+00')"
SUMS = ", ".join(f"sum({c})::bigint" for c in COUNTERS)
NONZERO = " OR ".join(f"sum({c}) <> 0" for c in COUNTERS)


def per_key(source: str) -> str:
    return f"""SELECT user_id, campaign_id, {QUARTER} AS bucket, {SUMS} FROM ({source}) f
               GROUP BY 1, 2, 3 HAVING {NONZERO}"""


async def rolled_and_recounted(db):
    rolled = {tuple(r)[:3]: tuple(r)[3:] for r in await db.fetch(per_key(repository.ROLLUPS))}
    recounted = {tuple(r)[:3]: tuple(r)[3:] for r in await db.fetch(per_key(repository.RAW_ROWS))}
    return rolled, recounted

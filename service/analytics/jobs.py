"""Folds the rollup deltas the triggers append into one row per key, so reads stay a few rows per bucket."""

from __future__ import annotations

from service.analytics import repository
from service.jobs import JobContext, periodic

BATCH = 50_000  # deltas per transaction: bounded locks and WAL per fold


@periodic("analytics.compact_rollups", cron="* * * * *")
async def compact_rollups(ctx: JobContext) -> None:
    while await repository.fold_deltas(ctx.pool, BATCH) == BATCH:
        pass

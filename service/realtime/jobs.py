"""Periodic purge of events older than the resume window."""

from __future__ import annotations

from service.jobs import JobContext, periodic
from service.realtime.events import RETENTION


@periodic("realtime.purge_events", cron="*/10 * * * *")
async def purge_events(ctx: JobContext) -> None:
    await ctx.pool.execute("DELETE FROM events WHERE created_at < now() - $1::interval", RETENTION)

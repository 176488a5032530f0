"""The dialer's background work: the per-campaign pump, settling ended calls, progress events, the safety net."""

from __future__ import annotations

import uuid
from typing import Any

from service.dialer import progress
from service.dialer.engine import dialer_of
from service.jobs import JobContext, job, periodic


@job("dialer.run", max_attempts=20, backoff_seconds=1.0, max_backoff_seconds=60.0)
async def run_campaign(ctx: JobContext, payload: dict[str, Any]) -> None:
    await dialer_of(ctx).run(uuid.UUID(payload["campaignId"]))


@job("dialer.call_ended", max_attempts=10)
async def call_ended(ctx: JobContext, payload: dict[str, Any]) -> None:
    await dialer_of(ctx).call_ended(uuid.UUID(payload["callId"]))


@job("dialer.publish_progress", max_attempts=3)
async def publish_progress(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.pool.acquire() as connection, connection.transaction():
        await progress.publish(connection, uuid.UUID(payload["campaignId"]))


@periodic("dialer.reconcile", cron="* * * * *")
async def reconcile(ctx: JobContext) -> None:
    """Claims of a dead worker whose campaign no pump serves (say, paused since) are settled; calls whose
    end-of-call webhook never came are asked of Twilio; active campaigns with contacts due get a pump if their
    hand-over was lost."""
    dialer = dialer_of(ctx)
    await dialer.reconcile()
    await dialer.check_silent_calls()
    await dialer.ensure_pumps()

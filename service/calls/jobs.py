"""Background work of the calls feature."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from service.ai.jobs import analyse_call
from service.calls import repository
from service.credits.service import CreditsService
from service.jobs import JobContext, job, periodic

log = structlog.get_logger()
# A call recorded but never given a sid this long ago was lost mid-dial (the process died): refund it.
STALE_DIAL_MINUTES = 10


@job("calls.analyse_recording", max_attempts=5)
async def analyse_recording(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The post-call analysis hand-off to the AI feature (idempotent; raises, so retries, on upstream errors)."""
    verdict = await analyse_call(ctx, uuid.UUID(payload["callId"]))
    log.info("post-call analysis", call_id=payload["callId"], verdict=verdict)


@periodic("calls.release_stale_dials", cron="*/5 * * * *")
async def release_stale_dials(ctx: JobContext) -> None:
    credits = CreditsService()
    async with ctx.pool.acquire() as connection, connection.transaction():
        for call_id, reservation in await repository.lost_dials(connection, STALE_DIAL_MINUTES):
            if reservation is not None:
                await credits.refund(connection, reservation)
            await repository.delete_call(connection, call_id)
            log.warning("refunded a call lost while dialing", call_id=str(call_id))

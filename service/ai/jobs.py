"""The AI feature's background work: post-call analysis, run by the calls feature's
`calls.analyse_recording` job once a completed call has its recording."""

from __future__ import annotations

import uuid

from service.ai.service import CallAnalyst
from service.credits.service import CreditsService
from service.jobs import JobContext


async def analyse_call(ctx: JobContext, call_id: uuid.UUID) -> str:
    analyst = CallAnalyst(
        ctx.pool, ctx.clients["openai"], ctx.clients["twilio"], ctx.settings.ai_prices, CreditsService()
    )
    return await analyst.analyse(call_id)

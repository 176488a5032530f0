"""SQL of the post-call analysis (asyncpg). A call is read by id only from a job the calls feature queued for it;
the analysis row carries the call's owner, and every write names the call."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

CALL = """
SELECT c.id, c.user_id, c.transcript, c.recording_url, c.language,
       coalesce(p.translation_enabled, false) AS translate,
       coalesce(p.response_language, u.preferred_language, 'en') AS target_language
FROM calls c
JOIN users u ON u.id = c.user_id
LEFT JOIN campaigns p ON p.id = c.campaign_id
WHERE c.id = $1
"""
FINISH = """
UPDATE call_analyses SET status = 'done', credits = $2, sentiment = $3, sentiment_score = $4, summary = $5,
       suggested_outcome = $6, follow_up_suggestion = $7, analysed_at = now(), updated_at = now()
WHERE call_id = $1 AND status = 'pending'
RETURNING call_id
"""
STORE_ON_CALL = """
UPDATE calls SET transcript = coalesce(transcript, $2), translated_transcript = coalesce($3, translated_transcript),
       sentiment = to_jsonb($4::text), updated_at = now()
WHERE id = $1
"""


async def call(connection: asyncpg.Connection, call_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(CALL, call_id)


async def claim(connection: asyncpg.Connection, call_id: uuid.UUID, user_id: uuid.UUID) -> asyncpg.Record:
    """The call's analysis row, created once and locked until the transaction ends: two runs take turns."""
    await connection.execute(
        "INSERT INTO call_analyses (call_id, user_id) VALUES ($1, $2) ON CONFLICT (call_id) DO NOTHING",
        call_id,
        user_id,
    )
    row = await connection.fetchrow(
        "SELECT status, credit_reservation_id FROM call_analyses WHERE call_id = $1 FOR UPDATE", call_id
    )
    assert row is not None
    return row


async def hold(connection: asyncpg.Connection, call_id: uuid.UUID, reservation_id: uuid.UUID | None) -> None:
    await connection.execute(
        "UPDATE call_analyses SET credit_reservation_id = $2, updated_at = now() WHERE call_id = $1",
        call_id,
        reservation_id,
    )


async def skip(connection: asyncpg.Connection, call_id: uuid.UUID, reason: str) -> None:
    await connection.execute(
        "UPDATE call_analyses SET status = 'skipped', reason = $2, updated_at = now() "
        "WHERE call_id = $1 AND status = 'pending'",
        call_id,
        reason,
    )


async def finish(connection: asyncpg.Connection, call_id: uuid.UUID, credits: int, answer: Any) -> bool:
    """True when this run wrote the analysis (a concurrent run may have been first)."""
    written = await connection.fetchval(
        FINISH,
        call_id,
        credits,
        answer.sentiment,
        answer.score,
        answer.summary,
        answer.suggested_outcome,
        answer.follow_up_suggestion,
    )
    return written is not None


async def store_on_call(
    connection: asyncpg.Connection, call_id: uuid.UUID, transcript: str, translated: str | None, sentiment: str
) -> None:
    await connection.execute(STORE_ON_CALL, call_id, transcript, translated, sentiment)

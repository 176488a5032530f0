"""Analytics in SQL (asyncpg). Every statement takes the owner; `None` (administrators only) means all accounts.

How a call counts (docs/analytics.md): by `created_at`; answered = Twilio says completed and the outcome is not
voicemail or no answer; no answer = that outcome, or no outcome and Twilio's no-answer/busy; failed = Twilio's
failed/canceled.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

ANSWERED = "(status = 'completed' AND outcome IS DISTINCT FROM 'voicemail' AND outcome IS DISTINCT FROM 'no_answer')"
NO_ANSWER = "(outcome = 'no_answer' OR (outcome IS NULL AND status IN ('no-answer', 'busy')))"
FAILED = "(status IN ('failed', 'canceled'))"

CALL_COUNTS = f"""
count(*) AS calls_made,
count(*) FILTER (WHERE {ANSWERED}) AS answered,
count(*) FILTER (WHERE outcome = 'appointment_set') AS appointment_set,
count(*) FILTER (WHERE outcome = 'callback') AS callback,
count(*) FILTER (WHERE outcome = 'voicemail') AS voicemail,
count(*) FILTER (WHERE {NO_ANSWER}) AS no_answer,
count(*) FILTER (WHERE {FAILED}) AS failed
"""


def owned(column: str, owner: uuid.UUID | None) -> str:
    """The owner filter on $1; for all accounts, a predicate that keeps $1 typed and lets the planner drop it."""
    return f"{column} = $1" if owner else "$1::uuid IS NULL"


def overview_sql(owner: uuid.UUID | None, by_campaign: bool) -> str:
    campaign = "AND campaign_id = $4" if by_campaign else "AND $4::uuid IS NULL"
    return f"""
    WITH c AS (
        SELECT {CALL_COUNTS}, coalesce(sum(duration_seconds), 0) AS talk_time,
               coalesce(sum(duration_seconds) FILTER (WHERE {ANSWERED}), 0) AS answered_time
        FROM calls WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3 {campaign}
    )
    SELECT c.*,
        (SELECT count(*) FROM contacts
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3) AS contacts_added,
        (SELECT count(*) FILTER (WHERE direction = 'outbound') FROM sms_messages
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3) AS sms_sent,
        (SELECT count(*) FILTER (WHERE direction = 'inbound') FROM sms_messages
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3) AS sms_received,
        (SELECT coalesce(-sum(delta), 0)::bigint FROM credit_ledger
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3
           AND kind IN ('debit', 'refund') AND reason LIKE 'ai.%') AS ai_credits_spent,
        (SELECT coalesce(-sum(delta), 0)::bigint FROM credit_ledger
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3
           AND kind IN ('debit', 'refund')) AS credits_spent,
        (SELECT count(DISTINCT user_id) FROM calls
         WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3) AS active_users
    FROM c
    """  # noqa: S608 - constants only


# Buckets are generated in the caller's zone so that empty ones are present. Days and weeks step in local
# time (a DST day is 23 or 25 hours long); hours step in absolute time from a local hour's start, so the
# repeated hour of a fall-back night is two buckets and the skipped one of spring-forward none.
BUCKETS = {
    "hour": """
        SELECT b AS start FROM generate_series(date_trunc('hour', $2::timestamptz, $5),
                                               $3::timestamptz - interval '1 microsecond', interval '1 hour') b
    """,
    "day": """
        SELECT b AT TIME ZONE $5 AS start
        FROM generate_series(date_trunc('day', $2::timestamptz AT TIME ZONE $5),
                             ($3::timestamptz - interval '1 microsecond') AT TIME ZONE $5, interval '1 day') b
    """,
    "week": """
        SELECT b AT TIME ZONE $5 AS start
        FROM generate_series(date_trunc('week', $2::timestamptz AT TIME ZONE $5),
                             ($3::timestamptz - interval '1 microsecond') AT TIME ZONE $5, interval '1 week') b
    """,
}
CALL_BUCKET = {
    "hour": "date_trunc('hour', $2::timestamptz, $5) "
    "+ floor(extract(epoch FROM created_at - date_trunc('hour', $2::timestamptz, $5)) / 3600) * interval '1 hour'",
    "day": "date_trunc('day', created_at, $5)",
    "week": "date_trunc('week', created_at, $5)",
}


def series_sql(owner: uuid.UUID | None, interval: str, by_campaign: bool) -> str:
    campaign = "AND campaign_id = $4" if by_campaign else "AND $4::uuid IS NULL"
    return f"""
    WITH buckets AS ({BUCKETS[interval]}),
    counted AS (
        SELECT {CALL_BUCKET[interval]} AS start, {CALL_COUNTS}
        FROM calls WHERE {owned("user_id", owner)} AND created_at >= $2 AND created_at < $3 {campaign}
        GROUP BY 1
    )
    SELECT b.start, coalesce(calls_made, 0) AS calls_made, coalesce(answered, 0) AS answered,
        coalesce(appointment_set, 0) AS appointment_set, coalesce(callback, 0) AS callback,
        coalesce(voicemail, 0) AS voicemail, coalesce(no_answer, 0) AS no_answer, coalesce(failed, 0) AS failed
    FROM buckets b LEFT JOIN counted USING (start)
    ORDER BY b.start
    """  # noqa: S608 - constants only


CAMPAIGN_OWNED = "SELECT 1 FROM campaigns WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"

FUNNEL = f"""
SELECT
    (SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1) AS to_call,
    count(DISTINCT contact_id) AS dialed,
    count(DISTINCT contact_id) FILTER (WHERE {ANSWERED}) AS answered,
    count(DISTINCT contact_id) FILTER (WHERE outcome = 'appointment_set') AS appointment_set
FROM calls WHERE campaign_id = $1 AND created_at >= $2 AND created_at < $3
"""  # noqa: S608 - constants only

OUTCOMES = """
SELECT coalesce(outcome, 'none') AS outcome, count(*) AS calls
FROM calls WHERE campaign_id = $1 AND created_at >= $2 AND created_at < $3
GROUP BY 1 ORDER BY 2 DESC, 1
"""

BY_HOUR = f"""
SELECT extract(hour FROM created_at AT TIME ZONE $4)::int AS hour, {CALL_COUNTS}
FROM calls WHERE campaign_id = $1 AND created_at >= $2 AND created_at < $3
GROUP BY 1 ORDER BY 1
"""  # noqa: S608 - constants only


async def overview(
    pool: asyncpg.Pool, owner: uuid.UUID | None, start: datetime, end: datetime, campaign: uuid.UUID | None
) -> asyncpg.Record:
    row = await pool.fetchrow(overview_sql(owner, campaign is not None), owner, start, end, campaign)
    assert row is not None  # an aggregate always answers one row
    return row


async def series(
    pool: asyncpg.Pool,
    owner: uuid.UUID | None,
    start: datetime,
    end: datetime,
    campaign: uuid.UUID | None,
    interval: str,
    tz: str,
) -> list[asyncpg.Record]:
    return await pool.fetch(series_sql(owner, interval, campaign is not None), owner, start, end, campaign, tz)


async def campaign_is_owned(pool: asyncpg.Pool, campaign: uuid.UUID, owner: uuid.UUID) -> bool:
    return await pool.fetchval(CAMPAIGN_OWNED, campaign, owner) is not None


async def campaign(
    pool: asyncpg.Pool, campaign_id: uuid.UUID, start: datetime, end: datetime, tz: str
) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]]:
    async with pool.acquire() as connection, connection.transaction(readonly=True, isolation="repeatable_read"):
        funnel = await connection.fetchrow(FUNNEL, campaign_id, start, end)
        outcomes = await connection.fetch(OUTCOMES, campaign_id, start, end)
        by_hour = await connection.fetch(BY_HOUR, campaign_id, start, end, tz)
    assert funnel is not None
    return funnel, outcomes, by_hour

"""Analytics in SQL (asyncpg). Every statement takes the owner; `None` (administrators only) means all accounts.

The figures come from "facts": rows with an owner, a campaign, an instant `at` and the counters of
service/db/models/analytics.py. Two sources give them:
- ROLLUPS (what the routes read): analytics_rollups plus the deltas not folded yet, per UTC quarter hour;
- RAW_ROWS (the recount, and the benchmark's "without rollups"): calls, contacts, SMS, the credit ledger and
  counted imported events, one fact per row, by the definitions below.
tests/analytics/test_rollups.py proves the two agree.

How a call counts (docs/analytics.md): by `created_at`; answered = Twilio says completed and the outcome is not
voicemail or no answer; no answer = that outcome, or no outcome and Twilio's no-answer/busy; failed = Twilio's
failed/canceled.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg

from service.db.models.analytics import COUNTERS

ANSWERED = "(status = 'completed' AND outcome IS DISTINCT FROM 'voicemail' AND outcome IS DISTINCT FROM 'no_answer')"
OUTCOMES = ("appointment_set", "interested", "not_interested", "callback", "voicemail", "no_answer", "other")
# Imported analytics_events names that mean a figure (counted in it); all other names are listed apart.
COUNTED_EVENTS = ("sms_sent", "sms_received", "ai_credits_spent")
EVENT_AMOUNT = "coalesce((properties->>'amount')::numeric, (properties->>'credits')::numeric, 0)::bigint"
SPENT = "CASE WHEN kind IN ('debit', 'refund') THEN -delta ELSE 0 END"


def facts(table: str, campaign: str, at: str, measures: dict[str, str], where: str = "true") -> str:
    values = ", ".join(f"coalesce({measures.get(c, '0')}, 0)::bigint AS {c}" for c in COUNTERS)
    return f"SELECT user_id, {campaign} AS campaign_id, {at} AS at, {values} FROM {table} WHERE {where}"  # noqa: S608


CALL_MEASURES = {
    "calls_made": "1",
    "answered": f"{ANSWERED}::int",
    "no_answer": "(outcome = 'no_answer' OR (outcome IS NULL AND status IN ('no-answer', 'busy')))::int",
    "failed": "(status IN ('failed', 'canceled'))::int",
    "talk_seconds": "coalesce(duration_seconds, 0)",
    "answered_seconds": f"CASE WHEN {ANSWERED} THEN coalesce(duration_seconds, 0) ELSE 0 END",
    **{f"outcome_{o}": f"(outcome = '{o}')::int" for o in OUTCOMES},
}
EVENT_MEASURES = {
    "sms_sent": "(name = 'sms_sent')::int",
    "sms_received": "(name = 'sms_received')::int",
    "ai_credits_spent": f"CASE WHEN name = 'ai_credits_spent' THEN {EVENT_AMOUNT} ELSE 0 END",
    "credits_spent": f"CASE WHEN name = 'ai_credits_spent' THEN {EVENT_AMOUNT} ELSE 0 END",
}
COUNTED = ", ".join(f"'{name}'" for name in COUNTED_EVENTS)
# (campaign, time column, measures) of the two tables a first import may count at the end of its stage
# (etl/load/rollups.py): no other table moves their figures.
TABLE_FACTS = {
    "calls": ("campaign_id", "created_at", CALL_MEASURES),
    "contacts": ("NULL::uuid", "created_at", {"contacts_added": "1"}),
}
RAW_ROWS = " UNION ALL ".join(
    (
        *(facts(table, *definition) for table, definition in TABLE_FACTS.items()),
        facts(
            "sms_messages",
            "NULL::uuid",
            "created_at",
            {"sms_sent": "(direction = 'outbound')::int", "sms_received": "(direction = 'inbound')::int"},
        ),
        facts(
            "credit_ledger",
            "NULL::uuid",
            "created_at",
            {"credits_spent": SPENT, "ai_credits_spent": f"CASE WHEN reason LIKE 'ai.%' THEN {SPENT} ELSE 0 END"},
        ),
        facts("analytics_events", "NULL::uuid", "occurred_at", EVENT_MEASURES, f"name IN ({COUNTED})"),
    )
)
ROLLED = ", ".join(COUNTERS)
ROLLUPS = (
    f"SELECT user_id, campaign_id, bucket AS at, {ROLLED} FROM analytics_rollups UNION ALL "  # noqa: S608 - constants
    f"SELECT user_id, campaign_id, bucket AS at, {ROLLED} FROM analytics_rollup_deltas"
)
SOURCES = {"rollups": ROLLUPS, "rows": RAW_ROWS}


def owned(column: str, owner: uuid.UUID | None) -> str:
    """The owner filter on $1; for all accounts, a predicate that keeps $1 typed and lets the planner drop it."""
    return f"{column} = $1" if owner else "$1::uuid IS NULL"


def within(owner: uuid.UUID | None, by_campaign: bool) -> str:
    """Facts of $1 (or all) in [$2, $3), of campaign $4 (or all)."""
    campaign = "campaign_id = $4" if by_campaign else "$4::uuid IS NULL"
    return f"{owned('user_id', owner)} AND at >= $2 AND at < $3 AND {campaign}"


SOME_OWNER = uuid.UUID(int=1)  # for SQL that always filters by an owner given at run time


SUMS = ", ".join(f"coalesce(sum({c}), 0)::bigint AS {c}" for c in COUNTERS)


def overview_sql(owner: uuid.UUID | None, by_campaign: bool, source: str) -> str:
    return f"""
    WITH f AS (SELECT * FROM ({SOURCES[source]}) facts WHERE {within(owner, by_campaign)})
    SELECT {SUMS},
        (SELECT count(*) FROM (SELECT user_id FROM f WHERE user_id IS NOT NULL GROUP BY user_id
                               HAVING sum(calls_made) > 0) callers) AS active_users,
        (SELECT coalesce(max(id), 0) FROM events) AS as_of_event_id
    FROM f
    """  # noqa: S608 - constants only


# Buckets are generated in the caller's zone so that empty ones are present. Days and weeks step in local
# time (a DST day is 23 or 25 hours long); hours step in absolute time from a local hour's start, so the
# repeated hour of a fall-back night is two buckets and the skipped one of spring-forward none. Every local
# hour, day and week starts on a UTC quarter hour, so each rollup bucket lies wholly within one of them.
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
FACT_BUCKET = {
    "hour": "date_trunc('hour', $2::timestamptz, $5) "
    "+ floor(extract(epoch FROM at - date_trunc('hour', $2::timestamptz, $5)) / 3600) * interval '1 hour'",
    "day": "date_trunc('day', at, $5)",
    "week": "date_trunc('week', at, $5)",
}
SERIES_COUNTERS = (
    "calls_made",
    "answered",
    "outcome_appointment_set",
    "outcome_callback",
    "outcome_voicemail",
    "no_answer",
    "failed",
)


def series_sql(owner: uuid.UUID | None, interval: str, by_campaign: bool, source: str) -> str:
    sums = ", ".join(f"sum({c})::bigint AS {c}" for c in SERIES_COUNTERS)
    values = ", ".join(f"coalesce({c}, 0) AS {c}" for c in SERIES_COUNTERS)
    return f"""
    WITH buckets AS ({BUCKETS[interval]}),
    counted AS (
        SELECT {FACT_BUCKET[interval]} AS start, {sums}
        FROM ({SOURCES[source]}) facts WHERE {within(owner, by_campaign)}
        GROUP BY 1
    )
    SELECT b.start, {values}
    FROM buckets b LEFT JOIN counted USING (start)
    ORDER BY b.start
    """  # noqa: S608 - constants only


CAMPAIGN_OWNED = "SELECT 1 FROM campaigns WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"

# Distinct contacts: not additive over buckets, so the funnel always counts the campaign's calls.
FUNNEL = f"""
SELECT
    (SELECT count(*) FROM campaign_contacts WHERE campaign_id = $1) AS to_call,
    count(DISTINCT contact_id) AS dialed,
    count(DISTINCT contact_id) FILTER (WHERE {ANSWERED}) AS answered,
    count(DISTINCT contact_id) FILTER (WHERE outcome = 'appointment_set') AS appointment_set
FROM calls WHERE campaign_id = $1 AND created_at >= $2 AND created_at < $3
"""  # noqa: S608 - constants only


def by_hour_sql(source: str) -> str:
    outcomes = ", ".join(f"sum(outcome_{o})::bigint AS outcome_{o}" for o in OUTCOMES)
    return f"""
    SELECT extract(hour FROM at AT TIME ZONE $5)::int AS hour, sum(calls_made)::bigint AS calls_made,
           sum(answered)::bigint AS answered, {outcomes}
    FROM ({SOURCES[source]}) facts WHERE {within(SOME_OWNER, True)}
    GROUP BY 1 HAVING sum(calls_made) > 0 ORDER BY 1
    """  # noqa: S608 - constants only


OTHER_EVENTS = f"""
SELECT name, count(*) AS count FROM analytics_events
WHERE {{owner}} AND occurred_at >= $2 AND occurred_at < $3 AND name NOT IN ({COUNTED})
GROUP BY name ORDER BY count DESC, name LIMIT 100
"""  # noqa: S608 - constants only


async def overview(
    pool: asyncpg.Pool,
    owner: uuid.UUID | None,
    start: datetime,
    end: datetime,
    campaign: uuid.UUID | None,
    source: str = "rollups",
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """The figures and the imported events that are not figures, from one snapshot (so `as_of_event_id` is
    exact: every live change up to that event is in the figures, none after it)."""
    async with pool.acquire() as connection, connection.transaction(readonly=True, isolation="repeatable_read"):
        row = await connection.fetchrow(overview_sql(owner, campaign is not None, source), owner, start, end, campaign)
        others = (
            []
            if campaign
            else await connection.fetch(OTHER_EVENTS.format(owner=owned("user_id", owner)), owner, start, end)
        )
    assert row is not None  # an aggregate always answers one row
    return row, others


async def series(
    pool: asyncpg.Pool,
    owner: uuid.UUID | None,
    start: datetime,
    end: datetime,
    campaign: uuid.UUID | None,
    interval: str,
    tz: str,
    source: str = "rollups",
) -> list[asyncpg.Record]:
    sql = series_sql(owner, interval, campaign is not None, source)
    return await pool.fetch(sql, owner, start, end, campaign, tz)


async def campaign_is_owned(pool: asyncpg.Pool, campaign: uuid.UUID, owner: uuid.UUID) -> bool:
    return await pool.fetchval(CAMPAIGN_OWNED, campaign, owner) is not None


async def campaign(
    pool: asyncpg.Pool,
    owner: uuid.UUID,
    campaign_id: uuid.UUID,
    start: datetime,
    end: datetime,
    tz: str,
    source: str = "rollups",
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    async with pool.acquire() as connection, connection.transaction(readonly=True, isolation="repeatable_read"):
        funnel = await connection.fetchrow(FUNNEL, campaign_id, start, end)
        by_hour = await connection.fetch(by_hour_sql(source), owner, start, end, campaign_id, tz)
    assert funnel is not None
    return funnel, by_hour


FOLD = f"""
WITH moved AS (
    DELETE FROM analytics_rollup_deltas
    WHERE id IN (SELECT id FROM analytics_rollup_deltas ORDER BY id LIMIT $1)
    RETURNING *
), folded AS (
    INSERT INTO analytics_rollups AS r (user_id, campaign_id, bucket, {ROLLED})
    SELECT user_id, campaign_id, bucket, {", ".join(f"sum({c})" for c in COUNTERS)} FROM moved GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (user_id, bucket, campaign_id) DO UPDATE
    SET {", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in COUNTERS)}
)
SELECT count(*) FROM moved
"""  # noqa: S608 - constants only


async def fold_deltas(pool: asyncpg.Pool, batch: int) -> int:
    """Folds up to `batch` deltas into the rollups in one transaction (readers see both, so never twice);
    returns how many it folded."""
    async with pool.acquire() as connection, connection.transaction():
        moved = await connection.fetchval(FOLD, batch)
    return int(moved)


ACTIVITY = """
SELECT id, kind, occurred_at AS created_at, data FROM analytics_activity
WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (occurred_at, id) < ($2, $3)) AND ($4::text IS NULL OR kind = $4)
ORDER BY occurred_at DESC, id DESC LIMIT $5
"""


async def activity(
    pool: asyncpg.Pool,
    owner: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    kind: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, from the keyset `after` (the last row of the previous page)."""
    at, last = after or (None, None)
    return await pool.fetch(ACTIVITY, owner, at, last, kind, limit)


EXPORT = """
SELECT c.id, c.created_at, c.started_at, c.ended_at, c.direction, c.status, c.outcome, c.duration_seconds,
       c.phone_number, c.contact_id, concat_ws(' ', k.first_name, k.last_name) AS contact_name,
       c.campaign_id, g.name AS campaign_name, c.answered_by, c.notes
FROM calls c
LEFT JOIN contacts k ON k.id = c.contact_id AND k.user_id = c.user_id
LEFT JOIN campaigns g ON g.id = c.campaign_id AND g.user_id = c.user_id
WHERE c.user_id = $1 AND c.created_at >= $2 AND c.created_at < $3 AND ($4::uuid IS NULL OR c.campaign_id = $4)
ORDER BY c.created_at, c.id
"""


async def export_batches(
    pool: asyncpg.Pool, owner: uuid.UUID, start: datetime, end: datetime, campaign: uuid.UUID | None, batch: int
) -> AsyncIterator[list[asyncpg.Record]]:
    """The owner's calls oldest first, `batch` rows at a time from a server-side cursor (one snapshot)."""
    async with pool.acquire() as connection, connection.transaction(readonly=True, isolation="repeatable_read"):
        cursor = await connection.cursor(EXPORT, owner, start, end, campaign)
        while rows := await cursor.fetch(batch):
            yield rows

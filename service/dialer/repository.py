"""The dialer's SQL (asyncpg): targets, rules, pacing, the do-not-call list, progress counters.

Statements reached from routes take the owner and filter by it; the engine's statements run for the worker,
which acts on behalf of each campaign's owner (`dialer_targets.user_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from service.campaigns.repository import PLACED_SQL

Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection

RULE_COLUMNS = (
    "calling_start",
    "calling_end",
    "calling_days",
    "retry_delay_seconds",
    "max_attempts",
    "machine_detection",
    "voicemail_action",
    "voicemail_message",
)
SELECT_RULES = f"SELECT {', '.join(RULE_COLUMNS)} FROM dialer_rules WHERE campaign_id = $1"  # noqa: S608


# -- scheduling (in the transaction of a campaign's status change) -------------------------------------------------
async def ensure_rules(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record:
    await connection.execute("INSERT INTO dialer_rules (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING", campaign_id)
    row = await connection.fetchrow(SELECT_RULES, campaign_id)
    assert row is not None
    return row


async def add_targets(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> int:
    """A pending target, due at once (next_at null), for every live member not targeted yet."""
    status = await connection.execute(
        """INSERT INTO dialer_targets (campaign_id, contact_id, user_id)
           SELECT cc.campaign_id, ct.id, ct.user_id
           FROM campaign_contacts cc JOIN contacts ct ON ct.id = cc.contact_id AND ct.deleted_at IS NULL
           JOIN campaigns c ON c.id = cc.campaign_id AND c.user_id = ct.user_id
           WHERE cc.campaign_id = $1
           ON CONFLICT DO NOTHING""",
        campaign_id,
    )
    return int(status.rsplit(" ", 1)[-1])


async def cancel_pending(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> int:
    status = await connection.execute(
        "UPDATE dialer_targets SET state = 'canceled', next_at = NULL, updated_at = now() "
        "WHERE campaign_id = $1 AND state = 'pending'",
        campaign_id,
    )
    return int(status.rsplit(" ", 1)[-1])


# -- the pump's lease ----------------------------------------------------------------------------------------
async def take_pump(
    db: Executor, campaign_id: uuid.UUID, holder: uuid.UUID, now: datetime, until: datetime
) -> datetime | None:
    """Take or renew the campaign's pump lease; None when it is ours, else when the other holder's runs out."""
    taken = await db.fetchval(
        """INSERT INTO dialer_pumps (campaign_id, holder, lease_until) VALUES ($1, $2, $4)
           ON CONFLICT (campaign_id) DO UPDATE SET holder = $2, lease_until = $4
           WHERE dialer_pumps.holder = $2 OR dialer_pumps.lease_until < $3
           RETURNING true""",
        campaign_id,
        holder,
        now,
        until,
    )
    if taken:
        return None
    held: datetime | None = await db.fetchval(
        "SELECT lease_until FROM dialer_pumps WHERE campaign_id = $1", campaign_id
    )
    return held or now


async def drop_pump(db: Executor, campaign_id: uuid.UUID, holder: uuid.UUID) -> None:
    await db.execute("DELETE FROM dialer_pumps WHERE campaign_id = $1 AND holder = $2", campaign_id, holder)


# -- claiming --------------------------------------------------------------------------------------------------
async def lock_pacing(connection: asyncpg.Connection, account_sid: str) -> asyncpg.Record:
    """The account's pacing row, locked: every claim in every worker takes its dial slots under this lock."""
    await connection.execute("INSERT INTO dialer_pacing (account_sid) VALUES ($1) ON CONFLICT DO NOTHING", account_sid)
    row = await connection.fetchrow(
        "SELECT calls_per_second, max_concurrent, next_slot_at, backoff_until FROM dialer_pacing "
        "WHERE account_sid = $1 FOR UPDATE",
        account_sid,
    )
    assert row is not None
    return row


async def in_flight(connection: asyncpg.Connection) -> int:
    """Attempts claimed or in progress, across every campaign (one Twilio account serves them all)."""
    return int(await connection.fetchval("SELECT count(*) FROM dialer_targets WHERE state = 'dialing'"))


async def take_slots(connection: asyncpg.Connection, account_sid: str, next_slot_at: datetime) -> None:
    await connection.execute(
        "UPDATE dialer_pacing SET next_slot_at = $2, updated_at = now() WHERE account_sid = $1",
        account_sid,
        next_slot_at,
    )


async def back_off(connection: asyncpg.Connection, account_sid: str, until: datetime) -> None:
    await connection.execute(
        "UPDATE dialer_pacing SET backoff_until = greatest(coalesce(backoff_until, $2), $2), updated_at = now() "
        "WHERE account_sid = $1",
        account_sid,
        until,
    )


DUE = """
WITH due AS (
    SELECT campaign_id, contact_id FROM dialer_targets
    WHERE campaign_id = $1 AND state = 'pending' AND (next_at IS NULL OR next_at <= $2)
    ORDER BY next_at NULLS FIRST, contact_id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
SELECT t.contact_id, t.attempts, t.user_id, ct.phone, ct.timezone, ct.first_name, ct.last_name,
       NULLIF(concat_ws(' ', ct.first_name, ct.last_name), '') AS full_name,
       ct.company, ct.email,
       CASE WHEN ct.deleted_at IS NOT NULL OR cc.contact_id IS NULL THEN 'removed'
            WHEN ct.phone IS NULL THEN 'no_phone'
            WHEN ct.opted_out_at IS NOT NULL THEN 'opted_out'
            WHEN EXISTS (SELECT 1 FROM do_not_call_numbers d WHERE d.user_id = t.user_id AND d.phone = ct.phone)
                THEN 'do_not_call'
       END AS refusal
FROM due
JOIN dialer_targets t USING (campaign_id, contact_id)
JOIN contacts ct ON ct.id = t.contact_id
LEFT JOIN campaign_contacts cc ON cc.campaign_id = t.campaign_id AND cc.contact_id = t.contact_id
"""


async def due_targets(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, now: datetime, limit: int
) -> list[asyncpg.Record]:
    """Pending targets due now, locked (SKIP LOCKED: two claimers never get the same one), with why not to call."""
    return await connection.fetch(DUE, campaign_id, now, limit)


async def skip(connection: asyncpg.Connection, campaign_id: uuid.UUID, contact_id: uuid.UUID, reason: str) -> None:
    state = "canceled" if reason == "removed" else "skipped"
    await connection.execute(
        "UPDATE dialer_targets SET state = $3, skip_reason = $4, next_at = NULL, updated_at = now() "
        "WHERE campaign_id = $1 AND contact_id = $2",
        campaign_id,
        contact_id,
        state,
        None if reason == "removed" else reason,
    )


async def postpone(connection: asyncpg.Connection, campaign_id: uuid.UUID, contact_id: uuid.UUID, at: datetime) -> None:
    await connection.execute(
        "UPDATE dialer_targets SET next_at = $3, updated_at = now() WHERE campaign_id = $1 AND contact_id = $2",
        campaign_id,
        contact_id,
        at,
    )


async def mark_dialing(
    connection: asyncpg.Connection,
    campaign_id: uuid.UUID,
    claimed: Sequence[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> None:
    """The claimed targets, (contact id, its attempt's call id) each, are dialing: one round trip for all."""
    await connection.executemany(
        "UPDATE dialer_targets SET state = 'dialing', attempts = attempts + 1, call_id = $3, claimed_at = $4, "
        "next_at = NULL, updated_at = now() WHERE campaign_id = $1 AND contact_id = $2",
        [(campaign_id, contact_id, call_id, now) for contact_id, call_id in claimed],
    )


# -- after a dial ----------------------------------------------------------------------------------------------
async def lock_attempt(connection: asyncpg.Connection, call_id: uuid.UUID) -> asyncpg.Record | None:
    """The target whose attempt in progress is this call, locked; None once the attempt was settled or voided."""
    return await connection.fetchrow(
        """SELECT t.campaign_id, t.contact_id, t.user_id, t.attempts, t.claimed_at,
                  c.status, c.outcome, c.twilio_sid, c.phone_number, c.credit_reservation_id
           FROM dialer_targets t JOIN calls c ON c.id = t.call_id
           WHERE t.call_id = $1 AND t.state = 'dialing'
           FOR UPDATE OF t""",
        call_id,
    )


async def release(connection: asyncpg.Connection, campaign_id: uuid.UUID, contact_id: uuid.UUID, at: datetime) -> None:
    """An attempt that never left the machine: the contact is pending again, with its attempt count as before."""
    await connection.execute(
        "UPDATE dialer_targets SET state = 'pending', attempts = attempts - 1, call_id = NULL, claimed_at = NULL, "
        "next_at = $3, updated_at = now() WHERE campaign_id = $1 AND contact_id = $2",
        campaign_id,
        contact_id,
        at,
    )


async def settle(
    connection: asyncpg.Connection, campaign_id: uuid.UUID, contact_id: uuid.UUID, retry_at: datetime | None
) -> None:
    """The attempt is over: the contact is done, or pending again for its next attempt at `retry_at`."""
    await connection.execute(
        "UPDATE dialer_targets SET state = CASE WHEN $3::timestamptz IS NULL THEN 'done' ELSE 'pending' END, "
        "next_at = $3, claimed_at = NULL, updated_at = now() WHERE campaign_id = $1 AND contact_id = $2",
        campaign_id,
        contact_id,
        retry_at,
    )


async def campaign_status(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> str | None:
    return await connection.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id)


async def anything_left(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> bool:
    """Anyone of the campaign still to call or in a call."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM dialer_targets WHERE campaign_id = $1 AND state IN ('pending', 'dialing'))",
            campaign_id,
        )
    )


async def next_due(connection: Executor, campaign_id: uuid.UUID) -> tuple[bool, datetime | None]:
    """(anything pending, when the earliest is due: None for at once)."""
    row = await connection.fetchrow(
        "SELECT count(*) > 0 AS pending, min(next_at) FILTER (WHERE next_at IS NOT NULL) AS later, "
        "bool_or(next_at IS NULL) AS now FROM dialer_targets WHERE campaign_id = $1 AND state = 'pending'",
        campaign_id,
    )
    assert row is not None
    return bool(row["pending"]), None if row["now"] else row["later"]


async def unsent_claims(connection: Executor, before: datetime, campaign_id: uuid.UUID | None) -> list[asyncpg.Record]:
    """Attempts claimed before `before` whose dial has no sid: the worker may have died before or after sending."""
    return await connection.fetch(
        """SELECT t.call_id, t.campaign_id, t.contact_id, t.claimed_at, c.phone_number
           FROM dialer_targets t JOIN calls c ON c.id = t.call_id
           WHERE t.state = 'dialing' AND c.twilio_sid IS NULL AND t.claimed_at < $1
             AND ($2::uuid IS NULL OR t.campaign_id = $2)""",
        before,
        campaign_id,
    )


async def silent_attempts(connection: Executor, before: datetime, limit: int) -> list[asyncpg.Record]:
    """Attempts dialed (a sid) and claimed before `before` whose call has not ended here, oldest first."""
    return await connection.fetch(
        """SELECT t.call_id, c.twilio_sid FROM dialer_targets t JOIN calls c ON c.id = t.call_id
           WHERE t.state = 'dialing' AND c.twilio_sid IS NOT NULL AND t.claimed_at < $1
           ORDER BY t.claimed_at LIMIT $2""",
        before,
        limit,
    )


async def oldest_unsent_claim(connection: Executor, campaign_id: uuid.UUID) -> datetime | None:
    return await connection.fetchval(
        """SELECT min(t.claimed_at) FROM dialer_targets t JOIN calls c ON c.id = t.call_id
           WHERE t.campaign_id = $1 AND t.state = 'dialing' AND c.twilio_sid IS NULL""",
        campaign_id,
    )


async def unknown_sids(connection: Executor, sids: Sequence[str]) -> set[str]:
    """Of these Twilio sids, the ones no call of ours holds."""
    known = await connection.fetch("SELECT twilio_sid FROM calls WHERE twilio_sid = ANY($1::text[])", list(sids))
    return set(sids) - {row["twilio_sid"] for row in known}


async def campaigns_with_due_work(connection: Executor, now: datetime) -> list[uuid.UUID]:
    rows = await connection.fetch(
        """SELECT DISTINCT t.campaign_id FROM dialer_targets t JOIN campaigns c ON c.id = t.campaign_id
           WHERE c.status = 'active' AND t.state = 'pending' AND (t.next_at IS NULL OR t.next_at <= $1)""",
        now,
    )
    return [row["campaign_id"] for row in rows]


# -- progress --------------------------------------------------------------------------------------------------
PROGRESS = f"""
SELECT t.to_call, t.in_progress, t.opted_out, t.do_not_call, t.unreachable, t.no_time_zone, t.targets,
       k.dialed, k.answered, k.appointments_set, k.voicemail, k.no_answer, k.failed, k.last_minute, k.pace_span
FROM (
    SELECT count(*) FILTER (WHERE state = 'pending') AS to_call,
           count(*) FILTER (WHERE state = 'dialing') AS in_progress,
           count(*) FILTER (WHERE skip_reason = 'opted_out') AS opted_out,
           count(*) FILTER (WHERE skip_reason = 'do_not_call') AS do_not_call,
           count(*) FILTER (WHERE skip_reason IN ('no_phone', 'no_calling_hours')) AS unreachable,
           count(*) FILTER (WHERE skip_reason = 'no_timezone') AS no_time_zone,
           count(*) AS targets
    FROM dialer_targets WHERE campaign_id = $1
) t, (
    SELECT count(*) FILTER (WHERE {PLACED_SQL}) AS dialed,
           count(*) FILTER (WHERE status = 'completed' AND outcome IS DISTINCT FROM 'voicemail') AS answered,
           count(*) FILTER (WHERE outcome = 'appointment_set') AS appointments_set,
           count(*) FILTER (WHERE outcome = 'voicemail') AS voicemail,
           count(*) FILTER (WHERE status IN ('no-answer', 'busy')) AS no_answer,
           count(*) FILTER (WHERE status IN ('failed', 'canceled')) AS failed,
           count(*) FILTER (WHERE dial_attempt IS NOT NULL AND created_at > now() - interval '1 minute')
               AS last_minute,
           extract(epoch FROM now() - min(created_at) FILTER (
               WHERE dial_attempt IS NOT NULL AND created_at > now() - interval '1 minute'))::float8 AS pace_span
    FROM calls WHERE campaign_id = $1 AND user_id = $2
) k
"""  # noqa: S608


async def progress(db: Executor, owner: uuid.UUID, campaign_id: uuid.UUID) -> asyncpg.Record:
    row = await db.fetchrow(PROGRESS, campaign_id, owner)
    assert row is not None
    return row


async def owner_of(db: Executor, campaign_id: uuid.UUID) -> uuid.UUID | None:
    return await db.fetchval("SELECT user_id FROM campaigns WHERE id = $1", campaign_id)


# -- rules (routes) --------------------------------------------------------------------------------------------
async def rules(db: Executor, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(SELECT_RULES, campaign_id)


async def save_rules(connection: asyncpg.Connection, campaign_id: uuid.UUID, values: dict[str, Any]) -> None:
    await connection.execute("INSERT INTO dialer_rules (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING", campaign_id)
    names = [name for name in RULE_COLUMNS if name in values]
    if names:
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        await connection.execute(
            f"UPDATE dialer_rules SET {assignments}, updated_at = now() WHERE campaign_id = $1",  # noqa: S608
            campaign_id,
            *(values[name] for name in names),
        )


# -- pacing (administrators) -----------------------------------------------------------------------------------
async def pacing(db: Executor, account_sid: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT calls_per_second, max_concurrent, backoff_until FROM dialer_pacing WHERE account_sid = $1", account_sid
    )


async def save_pacing(connection: asyncpg.Connection, account_sid: str, rate: float, concurrent: int) -> None:
    await connection.execute(
        """INSERT INTO dialer_pacing (account_sid, calls_per_second, max_concurrent) VALUES ($1, $2, $3)
           ON CONFLICT (account_sid) DO UPDATE SET calls_per_second = $2, max_concurrent = $3, updated_at = now()""",
        account_sid,
        rate,
        concurrent,
    )


# -- the do-not-call list --------------------------------------------------------------------------------------
async def dnc_page(db: Executor, owner: uuid.UUID, after: str | None, limit: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT phone, reason, created_at FROM do_not_call_numbers WHERE user_id = $1 "
        "AND ($2::text IS NULL OR phone > $2) ORDER BY phone LIMIT $3",
        owner,
        after,
        limit + 1,
    )


async def dnc_get(db: Executor, owner: uuid.UUID, phone: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT phone, reason, created_at FROM do_not_call_numbers WHERE user_id = $1 AND phone = $2", owner, phone
    )
    assert row is not None
    return row


async def dnc_add(connection: asyncpg.Connection, owner: uuid.UUID, phones: Sequence[str], reason: str | None) -> int:
    status = await connection.execute(
        "INSERT INTO do_not_call_numbers (user_id, phone, reason) SELECT $1, unnest($2::text[]), $3 "
        "ON CONFLICT DO NOTHING",
        owner,
        list(phones),
        reason,
    )
    return int(status.rsplit(" ", 1)[-1])


async def dnc_remove(connection: asyncpg.Connection, owner: uuid.UUID, phone: str) -> bool:
    status = await connection.execute("DELETE FROM do_not_call_numbers WHERE user_id = $1 AND phone = $2", owner, phone)
    return status.endswith(" 1")

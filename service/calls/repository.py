"""Calls, call events and SMS in SQL (asyncpg). Reads of a user's data take the owner and filter by it.

Twilio's webhooks name a call only by its CallSid, so the statements they use look calls up by sid; those
routes are authenticated by Twilio's signature instead of a user.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from service.db.models.base import uuid7

TERMINAL = ("completed", "busy", "failed", "no-answer", "canceled")
_TERMINAL_SQL = "('completed', 'busy', 'failed', 'no-answer', 'canceled')"

# The order of the fields read by service.call_out / status_out.
CALL_COLUMNS = """
c.id, c.twilio_sid, c.contact_id, c.campaign_id,
NULLIF(concat_ws(' ', ct.first_name, ct.last_name), '') AS contact_name, ct.company AS company_name,
c.phone_number, c.status, c.outcome, c.direction, coalesce(c.duration_seconds, 0) AS duration, c.answered_by,
c.recording_url, c.transcript, c.translated_transcript, c.language, c.sentiment, c.follow_up_status, c.notes,
c.started_at, c.ended_at, c.created_at
"""
FROM_CALLS = "FROM calls c LEFT JOIN contacts ct ON ct.id = c.contact_id"
SELECT_CALL = f"SELECT {CALL_COLUMNS} {FROM_CALLS}"

INSERT_CALL = """
INSERT INTO calls (id, user_id, contact_id, campaign_id, phone_number, status, direction, language, script,
                   recording_enabled, credit_reservation_id, duration_seconds, outcome, notes, dial_attempt,
                   voicemail_message)
VALUES ($1, $2, $3, $4, $5, $6, 'outbound-api', $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""
# A status callback, stored raw once per (CallSid, SequenceNumber); it names the call when the sid is known.
INSERT_EVENT = """
INSERT INTO call_events (id, call_id, call_sid, sequence_number, event_type, payload)
VALUES ($1, (SELECT id FROM calls WHERE twilio_sid = $2), $2, $3, $4, $5)
ON CONFLICT (call_sid, sequence_number) DO NOTHING
RETURNING call_id
"""
# The state machine: a newer callback (higher sequence) moves a live call on; a terminal call never moves.
APPLY_STATUS = f"""
UPDATE calls SET
    status = $2,
    last_sequence_number = $3,
    duration_seconds = coalesce($4, duration_seconds),
    answered_by = coalesce($5, answered_by),
    outcome = coalesce(outcome, $6),
    started_at = CASE WHEN $2 = 'in-progress' THEN coalesce(started_at, now()) ELSE started_at END,
    ended_at = CASE WHEN $2 IN {_TERMINAL_SQL} THEN coalesce(ended_at, now()) ELSE ended_at END,
    updated_at = now()
WHERE id = $1 AND status NOT IN {_TERMINAL_SQL} AND coalesce(last_sequence_number, -1) < $3
RETURNING id, twilio_sid, user_id, status, outcome, credit_reservation_id, recording_url, duration_seconds,
          dial_attempt
"""  # noqa: S608 - constants only


async def list_page(
    pool: asyncpg.Pool,
    owner: uuid.UUID,
    *,
    contact_id: uuid.UUID | None,
    campaign_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, up to limit + 1 rows (the extra one tells whether a next page exists)."""
    sql = f"""
    {SELECT_CALL}
    WHERE c.user_id = $1
      AND ($2::uuid IS NULL OR c.contact_id = $2)
      AND ($3::uuid IS NULL OR c.campaign_id = $3)
      AND ($4::timestamptz IS NULL OR (c.created_at, c.id) < ($4, $5::uuid))
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT {int(limit) + 1}
    """
    first, last = after if after else (None, None)
    return await pool.fetch(sql, owner, contact_id, campaign_id, first, last)


async def get_by_sid_or_id(pool: asyncpg.Pool, owner: uuid.UUID, key: str) -> asyncpg.Record | None:
    """The SPA names a call by Twilio's sid (the pollers) or by our id (the lists)."""
    try:
        call_id: uuid.UUID | None = uuid.UUID(key)
    except ValueError:
        call_id = None
    return await pool.fetchrow(
        f"{SELECT_CALL} WHERE c.user_id = $1 AND (c.twilio_sid = $2 OR c.id = $3::uuid)",
        owner,
        key,
        call_id,
    )


async def get(db: asyncpg.Pool | asyncpg.Connection, owner: uuid.UUID, call_id: uuid.UUID) -> asyncpg.Record:
    row = await db.fetchrow(f"{SELECT_CALL} WHERE c.user_id = $1 AND c.id = $2", owner, call_id)
    assert row is not None, "the call was just written"
    return row


async def insert_call(connection: asyncpg.Connection, owner: uuid.UUID, values: dict[str, Any]) -> uuid.UUID:
    (call_id,) = await insert_calls(connection, owner, [values])
    return call_id


async def insert_calls(
    connection: asyncpg.Connection, owner: uuid.UUID, calls: list[dict[str, Any]]
) -> list[uuid.UUID]:
    """The calls' new ids, in order; one round trip for all of them (a dialer claim's)."""
    ids = [uuid7() for _ in calls]
    await connection.executemany(
        INSERT_CALL,
        [
            (
                call_id,
                owner,
                values["contact_id"],
                values["campaign_id"],
                values["phone_number"],
                values.get("status", "queued"),
                values.get("language"),
                values.get("script"),
                values.get("recording_enabled", False),
                values.get("credit_reservation_id"),
                values.get("duration"),
                values.get("outcome"),
                values.get("notes"),
                values.get("dial_attempt"),
                values.get("voicemail_message"),
            )
            for call_id, values in zip(ids, calls, strict=True)
        ],
    )
    return ids


async def mark_failed(connection: asyncpg.Connection, call_id: uuid.UUID) -> None:
    await connection.execute(
        "UPDATE calls SET status = 'failed', ended_at = now(), updated_at = now() WHERE id = $1", call_id
    )


async def delete_call(connection: asyncpg.Connection, call_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM calls WHERE id = $1", call_id)


# Serializes, per sid, a callback's lookup of its call with the write of that sid: otherwise a callback that comes
# while the sid is being written is stored unlinked after the dialer looked for such callbacks, and is lost (a
# call stuck "ringing"). A statement of its own: a lookup in the same statement would read an older snapshot.
# Two int4 keys: a key space apart from the one-bigint locks of service/realtime.
LOCK_SID = "SELECT pg_advisory_xact_lock(hashtext('calls.twilio_sid'), hashtext($1))"


async def record_dialed(connection: asyncpg.Connection, call_id: uuid.UUID, sid: str, status: str) -> None:
    await connection.execute(LOCK_SID, sid)
    await connection.execute(
        "UPDATE calls SET twilio_sid = $2, status = $3, updated_at = now() WHERE id = $1", call_id, sid, status
    )


async def adopt_early_events(connection: asyncpg.Connection, call_id: uuid.UUID, sid: str) -> list[dict[str, Any]]:
    """Callbacks that arrived before the sid was stored: linked to the call now, newest sequence first."""
    rows = await connection.fetch(
        "UPDATE call_events SET call_id = $1 WHERE call_sid = $2 AND call_id IS NULL AND event_type = 'status' "
        "RETURNING sequence_number, payload",
        call_id,
        sid,
    )
    return [row["payload"] for row in sorted(rows, key=lambda r: r["sequence_number"], reverse=True)]


async def recent_dialed_call(
    connection: asyncpg.Connection, owner: uuid.UUID, contact_id: uuid.UUID
) -> asyncpg.Record | None:
    """The owner's latest call to the contact placed through Twilio in the last hour, if any."""
    return await connection.fetchrow(
        "SELECT id, outcome FROM calls WHERE user_id = $1 AND contact_id = $2 AND twilio_sid IS NOT NULL "
        "AND created_at > now() - interval '1 hour' ORDER BY created_at DESC LIMIT 1",
        owner,
        contact_id,
    )


async def set_outcome(
    connection: asyncpg.Connection, call_id: uuid.UUID, outcome: str | None, notes: str | None
) -> None:
    await connection.execute(
        "UPDATE calls SET outcome = coalesce($2, outcome), notes = coalesce($3, notes), updated_at = now() "
        "WHERE id = $1",
        call_id,
        outcome,
        notes,
    )


async def insert_event(
    connection: asyncpg.Connection, sid: str, sequence: int | None, kind: str, payload: dict[str, str]
) -> tuple[bool, uuid.UUID | None]:
    """(stored, call id): stored is False for a redelivered status callback."""
    await connection.execute(LOCK_SID, sid)
    row = await connection.fetchrow(INSERT_EVENT, uuid7(), sid, sequence, kind, payload)
    return (row is not None, row["call_id"] if row else None)


async def apply_status(
    connection: asyncpg.Connection,
    call_id: uuid.UUID,
    status: str,
    sequence: int,
    *,
    duration: int | None,
    answered_by: str | None,
    outcome: str | None,
) -> asyncpg.Record | None:
    """The call after the change, or None when the callback is older than what the call already shows."""
    return await connection.fetchrow(APPLY_STATUS, call_id, status, sequence, duration, answered_by, outcome)


async def set_recording(
    connection: asyncpg.Connection, sid: str, recording_sid: str | None, url: str
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "UPDATE calls SET recording_sid = coalesce($2, recording_sid), recording_url = $3, updated_at = now() "
        "WHERE twilio_sid = $1 RETURNING id, user_id, status",
        sid,
        recording_sid,
        url,
    )


async def set_transcript(connection: asyncpg.Connection, sid: str, text: str) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "UPDATE calls SET transcript = $2, updated_at = now() WHERE twilio_sid = $1 RETURNING id, user_id",
        sid,
        text,
    )


async def lost_dials(connection: asyncpg.Connection, minutes: int) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """The dialer's attempts are left out: it reconciles them against Twilio before deciding (docs/dialer.md)."""
    rows = await connection.fetch(
        "SELECT id, credit_reservation_id FROM calls WHERE twilio_sid IS NULL AND status = 'queued' "
        "AND dial_attempt IS NULL "
        "AND credit_reservation_id IS NOT NULL AND created_at < now() - make_interval(mins => $1) "
        "FOR UPDATE SKIP LOCKED",
        minutes,
    )
    return [(row["id"], row["credit_reservation_id"]) for row in rows]


async def call_for_twiml(pool: asyncpg.Pool, call_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT script, language, recording_enabled, dial_attempt, voicemail_message FROM calls WHERE id = $1", call_id
    )


# -- who may be called or texted ---------------------------------------------------------------------------------
async def refusal(db: asyncpg.Pool | asyncpg.Connection, owner: uuid.UUID, phone: str) -> str | None:
    """Why this number must not be called or texted by this owner: an opt-out, the do-not-call list, or None."""
    row = await db.fetchrow(
        """
        SELECT EXISTS (SELECT 1 FROM contacts WHERE user_id = $1 AND phone = $2 AND opted_out_at IS NOT NULL
                       AND deleted_at IS NULL) AS opted_out,
               EXISTS (SELECT 1 FROM do_not_call_numbers WHERE user_id = $1 AND phone = $2) AS do_not_call
        """,
        owner,
        phone,
    )
    if row["opted_out"]:
        return "This number opted out of calls and messages (it replied STOP)"
    if row["do_not_call"]:
        return "This number is on your do-not-call list"
    return None


async def set_opted_out(connection: asyncpg.Connection, phone: str, opted_out: bool) -> int:
    """Every contact with this number: the Twilio number is shared, so its opt-out holds for every account."""
    result = await connection.execute(
        "UPDATE contacts SET opted_out_at = CASE WHEN $2 THEN coalesce(opted_out_at, now()) END, updated_at = now() "
        "WHERE phone = $1 AND deleted_at IS NULL AND (opted_out_at IS NULL) = $2",
        phone,
        opted_out,
    )
    return int(result.split()[-1])


async def contact_by_phone(connection: asyncpg.Connection, owner: uuid.UUID, phone: str) -> uuid.UUID | None:
    value: uuid.UUID | None = await connection.fetchval(
        "SELECT id FROM contacts WHERE user_id = $1 AND phone = $2 AND deleted_at IS NULL "
        "ORDER BY created_at DESC LIMIT 1",
        owner,
        phone,
    )
    return value


async def last_sender_to(connection: asyncpg.Connection, phone: str) -> asyncpg.Record | None:
    """Whose conversation an inbound text belongs to: the account that last texted or called the number."""
    return await connection.fetchrow(
        """
        SELECT user_id, contact_id FROM (
            SELECT user_id, contact_id, created_at FROM sms_messages WHERE to_number = $1 AND direction = 'outbound'
            UNION ALL
            SELECT user_id, contact_id, created_at FROM calls WHERE phone_number = $1 AND user_id IS NOT NULL
        ) recent ORDER BY created_at DESC LIMIT 1
        """,
        phone,
    )


# -- SMS -----------------------------------------------------------------------------------------------------------
SMS_COLUMNS = "id, twilio_sid, status, contact_id, to_number, body, created_at"
SMS_SENT = (
    f"UPDATE sms_messages SET twilio_sid = $2, status = $3, updated_at = now() WHERE id = $1 RETURNING {SMS_COLUMNS}"  # noqa: S608
)


async def insert_sms(
    connection: asyncpg.Connection,
    owner: uuid.UUID,
    *,
    contact_id: uuid.UUID | None,
    direction: str,
    from_number: str | None,
    to_number: str | None,
    body: str,
    status: str,
    sid: str | None = None,
    reservation_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The new message's id; None when a message with this sid is already stored (a redelivered webhook)."""
    value: uuid.UUID | None = await connection.fetchval(
        "INSERT INTO sms_messages (id, user_id, contact_id, direction, from_number, to_number, body, status, "
        "twilio_sid, credit_reservation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (twilio_sid) DO NOTHING RETURNING id",
        uuid7(),
        owner,
        contact_id,
        direction,
        from_number,
        to_number,
        body,
        status,
        sid,
        reservation_id,
    )
    return value


async def sms_sent(connection: asyncpg.Connection, sms_id: uuid.UUID, sid: str, status: str) -> asyncpg.Record:
    row = await connection.fetchrow(
        SMS_SENT,
        sms_id,
        sid,
        status,
    )
    assert row is not None, "the message was just written"
    return row


async def delete_sms(connection: asyncpg.Connection, sms_id: uuid.UUID) -> None:
    await connection.execute("DELETE FROM sms_messages WHERE id = $1", sms_id)


SMS_RANKS = {
    "accepted": 0, "queued": 0, "scheduled": 0, "receiving": 0, "sending": 1, "received": 1, "sent": 2,
    "delivered": 3, "undelivered": 3, "failed": 3, "read": 4,
}  # fmt: skip
SMS_RANK_SQL = "CASE status " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in SMS_RANKS.items()) + " ELSE 0 END"
APPLY_SMS_STATUS = f"""
UPDATE sms_messages SET status = $2, error_code = coalesce($4, error_code), updated_at = now()
WHERE twilio_sid = $1 AND {SMS_RANK_SQL} < $3
RETURNING user_id, to_number
"""  # noqa: S608 - constants only


async def apply_sms_status(
    connection: asyncpg.Connection, sid: str, status: str, error_code: int | None
) -> asyncpg.Record | None:
    """Moves a message forward only (queued < sending < sent < delivered/undelivered/failed < read)."""
    return await connection.fetchrow(APPLY_SMS_STATUS, sid, status, SMS_RANKS.get(status, 0), error_code)

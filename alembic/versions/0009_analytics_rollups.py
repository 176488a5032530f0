"""Analytics: rollups kept by triggers in the writer's transaction, the activity feed, live events; backfilled.

Every statement that writes calls, contacts, sms_messages, credit_ledger or analytics_events appends, through a
statement-level trigger over its transition tables, one delta row per (owner, campaign, UTC quarter hour) it
moved: new rows count +1, old rows -1, so inserts, updates (an outcome change, a call moving campaign or
period) and deletes are all the same arithmetic. Appending never waits on another writer's row lock (an upsert
of a shared counter row would, and could deadlock two transactions that touch two rows in opposite orders).
The job analytics.compact_rollups folds the deltas into analytics_rollups; readers sum both, so the lag is 0.

Deltas and activity rows written by the service (not the Firebase import) are announced at commit by deferred
constraint triggers, which publish the way service/realtime/events.py does (same lock, table and channel).
The triggers are ENABLE ALWAYS: the ETL loader runs with session_replication_role = replica, which would
otherwise skip them (its rows must still be counted); the announcing triggers stay ordinary, so a load with
that role publishes nothing (and without it, imported rows are not `live`).

Revision ID: 0009
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must equal service/realtime/events.py (PUBLISH_LOCK_ID, CHANNEL); tests/analytics checks it.
PUBLISH_LOCK_ID = 0x52494556
CHANNEL = "ri_events"

ROLLUP_COLUMNS = (
    "calls_made",
    "answered",
    "no_answer",
    "failed",
    "outcome_appointment_set",
    "outcome_interested",
    "outcome_not_interested",
    "outcome_callback",
    "outcome_voicemail",
    "outcome_no_answer",
    "outcome_other",
    "talk_seconds",
    "answered_seconds",
    "contacts_added",
    "sms_sent",
    "sms_received",
    "credits_spent",
    "ai_credits_spent",
)
BUCKET = "date_bin('15 minutes', {0}, timestamptz '2000-01-01 00:00+00')"
TERMINAL = "('completed', 'busy', 'failed', 'no-answer', 'canceled')"
ANSWERED = (
    "(r.status = 'completed' AND r.outcome IS DISTINCT FROM 'voicemail' AND r.outcome IS DISTINCT FROM 'no_answer')"
)
OUTCOMES = ("appointment_set", "interested", "not_interested", "callback", "voicemail", "no_answer", "other")
# Imported analytics_events whose name means a figure the rollups hold; every other name is listed, not counted.
COUNTED_EVENTS = {
    "sms_sent": "sms_sent",
    "sms_received": "sms_received",
    "ai_credits_spent": "ai_credits_spent",
}


def call_measures() -> dict[str, str]:
    measures = {
        "calls_made": "1",
        "answered": f"{ANSWERED}::int",
        "no_answer": "(r.outcome = 'no_answer' OR (r.outcome IS NULL AND r.status IN ('no-answer', 'busy')))::int",
        "failed": "(r.status IN ('failed', 'canceled'))::int",
        "talk_seconds": "coalesce(r.duration_seconds, 0)",
        "answered_seconds": f"CASE WHEN {ANSWERED} THEN coalesce(r.duration_seconds, 0) ELSE 0 END",
    }
    measures.update({f"outcome_{o}": f"(r.outcome = '{o}')::int" for o in OUTCOMES})
    return measures


def event_measures() -> dict[str, str]:
    """An event counts 1, or its `amount`/`credits` property for credits."""
    amount = "coalesce((r.properties->>'amount')::numeric, (r.properties->>'credits')::numeric, 0)::bigint"
    measures = {column: f"(r.name = '{name}')::int" for name, column in COUNTED_EVENTS.items()}
    measures["ai_credits_spent"] = f"CASE WHEN r.name = 'ai_credits_spent' THEN {amount} ELSE 0 END"
    measures["credits_spent"] = measures["ai_credits_spent"]
    return measures


SPENT = "CASE WHEN r.kind IN ('debit', 'refund') THEN -r.delta ELSE 0 END"
# table -> (campaign expression, time column, live expression, measures)
SOURCES: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "calls": ("r.campaign_id", "created_at", "r.firebase_id IS NULL", call_measures()),
    "contacts": ("NULL::uuid", "created_at", "r.firebase_id IS NULL", {"contacts_added": "1"}),
    "sms_messages": (
        "NULL::uuid",
        "created_at",
        "r.firebase_id IS NULL",
        {"sms_sent": "(r.direction = 'outbound')::int", "sms_received": "(r.direction = 'inbound')::int"},
    ),
    "credit_ledger": (
        "NULL::uuid",
        "created_at",
        "true",
        {"credits_spent": SPENT, "ai_credits_spent": f"CASE WHEN r.reason LIKE 'ai.%' THEN {SPENT} ELSE 0 END"},
    ),
    "analytics_events": ("NULL::uuid", "occurred_at", "r.firebase_id IS NULL", event_measures()),
}


def signed_rows(table: str, transition: str, sign: int) -> str:
    campaign, at, live, measures = SOURCES[table]
    values = ", ".join(f"{sign} * coalesce({measures.get(c, '0')}, 0) AS {c}" for c in ROLLUP_COLUMNS)
    return (
        f"SELECT r.user_id, {campaign} AS campaign_id, {BUCKET.format('r.' + at)} AS bucket, {live} AS live, "
        f"{values} FROM {transition} r"
    )


def delta_insert(table: str, op_name: str) -> str:
    parts = {
        "INSERT": [signed_rows(table, "new_rows", 1)],
        "DELETE": [signed_rows(table, "old_rows", -1)],
        "UPDATE": [signed_rows(table, "new_rows", 1), signed_rows(table, "old_rows", -1)],
    }[op_name]
    # Only the figures this table moves: an update that moves none (a renamed contact) appends nothing.
    moved = [c for c in ROLLUP_COLUMNS if c in SOURCES[table][3]]
    columns = ", ".join(ROLLUP_COLUMNS)
    sums = ", ".join(f"sum({c})" for c in ROLLUP_COLUMNS)
    return (
        f"INSERT INTO analytics_rollup_deltas (user_id, campaign_id, bucket, live, {columns}) "
        f"SELECT user_id, campaign_id, bucket, live, {sums} FROM ({' UNION ALL '.join(parts)}) d "
        f"GROUP BY 1, 2, 3, 4 HAVING {' OR '.join(f'sum({c}) <> 0' for c in moved)};"
    )


# Activity rows per table and operation (n: new row, o: old row).
CALL_DATA = (
    "jsonb_build_object('callId', n.id, 'contactId', n.contact_id, 'campaignId', n.campaign_id, "
    "'status', n.status, 'outcome', n.outcome, 'durationSeconds', n.duration_seconds)"
)
CALL_WHEN = "CASE WHEN n.firebase_id IS NULL THEN now() ELSE coalesce(n.ended_at, n.updated_at) END"
CAMPAIGN_DATA = "jsonb_build_object('campaignId', n.id, 'name', n.name, 'status', n.status)"
CAMPAIGN_WHEN = "CASE WHEN n.firebase_id IS NULL THEN now() ELSE n.updated_at END"
ACTIVITY_COLUMNS = "INSERT INTO analytics_activity (user_id, kind, occurred_at, subject_id, data, live) "


def activity(table: str, op_name: str) -> list[str]:
    new = "new_rows n"
    joined = "new_rows n JOIN old_rows o USING (id)"
    live = "n.firebase_id IS NULL"
    if table == "calls" and op_name in ("INSERT", "UPDATE"):
        source, was_terminal, had_appointment = (
            (new, "false", "false")
            if op_name == "INSERT"
            else (joined, f"o.status IN {TERMINAL}", "o.outcome IS NOT DISTINCT FROM 'appointment_set'")
        )
        return [
            f"{ACTIVITY_COLUMNS} SELECT n.user_id, 'call.finished', {CALL_WHEN}, n.id, {CALL_DATA}, {live} "
            f"FROM {source} WHERE n.user_id IS NOT NULL AND n.status IN {TERMINAL} AND NOT {was_terminal};",
            f"{ACTIVITY_COLUMNS} SELECT n.user_id, 'appointment.set', {CALL_WHEN}, n.id, {CALL_DATA}, {live} "
            f"FROM {source} WHERE n.user_id IS NOT NULL AND n.outcome = 'appointment_set' AND NOT {had_appointment};",
        ]
    if table == "campaigns" and op_name in ("INSERT", "UPDATE"):
        source, old_status = (new, "NULL") if op_name == "INSERT" else (joined, "o.status")
        return [
            f"{ACTIVITY_COLUMNS} SELECT n.user_id, CASE n.status WHEN 'active' THEN 'campaign.started' "
            f"ELSE 'campaign.completed' END, {CAMPAIGN_WHEN}, n.id, {CAMPAIGN_DATA}, {live} "
            f"FROM {source} WHERE n.user_id IS NOT NULL AND n.status IN ('active', 'completed') "
            f"AND n.status IS DISTINCT FROM {old_status};"
        ]
    if table == "contacts" and op_name == "INSERT":
        # One row per statement and owner: an import of 5,000 contacts is one entry, not 5,000.
        return [
            f"{ACTIVITY_COLUMNS} SELECT n.user_id, 'contacts.added', "
            f"CASE WHEN {live} THEN now() ELSE max(n.created_at) END, NULL, "
            f"jsonb_build_object('count', count(*)), {live} "
            f"FROM {new} WHERE n.user_id IS NOT NULL GROUP BY n.user_id, {live};"
        ]
    return []


TABLES = ("calls", "contacts", "sms_messages", "credit_ledger", "analytics_events", "campaigns")
OPERATIONS = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
OPERATIONS["DELETE"] = "OLD TABLE AS old_rows"


def trigger_function(table: str) -> str:
    branches = []
    for op_name in OPERATIONS:
        body = ([delta_insert(table, op_name)] if table in SOURCES else []) + activity(table, op_name)
        if body:
            branches.append(f"IF TG_OP = '{op_name}' THEN\n" + "\n".join(body) + "\nEND IF;")
    return (
        f"CREATE FUNCTION analytics_track_{table}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        + "\n".join(branches)
        + "\nRETURN NULL;\nEND $$;"
    )


def operations_of(table: str) -> list[str]:
    return [o for o in OPERATIONS if (table in SOURCES) or activity(table, o)]


# asyncpg runs one statement per execute: these are split at the blank lines.
PUBLISH = f"""
CREATE FUNCTION analytics_publish(audience uuid[], kind text, payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE event_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({PUBLISH_LOCK_ID});
    INSERT INTO events (audience, type, data) VALUES (audience, kind, payload) RETURNING id INTO event_id;
    PERFORM pg_notify('{CHANNEL}', event_id::text);
END $$;

CREATE FUNCTION analytics_announce_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_publish(ARRAY[NEW.user_id], 'analytics.activity',
        jsonb_build_object('id', NEW.id, 'kind', NEW.kind, 'occurredAt', NEW.occurred_at) || NEW.data);
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_announce_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_publish(ARRAY[NEW.user_id], 'analytics.counters', jsonb_build_object(
        'bucket', NEW.bucket, 'campaignId', NEW.campaign_id,
        'changes', (SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(NEW))
                    WHERE key IN ({", ".join(f"'{c}'" for c in ROLLUP_COLUMNS)}) AND value <> '0')));
    RETURN NULL;
END $$;

-- At commit (deferred), so the publish lock is taken last, as publish() asks.
CREATE CONSTRAINT TRIGGER analytics_announce AFTER INSERT ON analytics_activity DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.live) EXECUTE FUNCTION analytics_announce_activity();

CREATE CONSTRAINT TRIGGER analytics_announce AFTER INSERT ON analytics_rollup_deltas
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.live AND NEW.user_id IS NOT NULL) EXECUTE FUNCTION analytics_announce_counters();
"""


def backfill() -> list[str]:
    columns = ", ".join(ROLLUP_COLUMNS)
    rows = " UNION ALL ".join(signed_rows(table, table, 1) for table in SOURCES)
    sums = ", ".join(f"sum({c})" for c in ROLLUP_COLUMNS)
    return [
        f"""INSERT INTO analytics_rollups (user_id, campaign_id, bucket, {columns})
    SELECT user_id, campaign_id, bucket, {sums} FROM ({rows}) d GROUP BY 1, 2, 3""",
        f"""INSERT INTO analytics_activity (user_id, kind, occurred_at, subject_id, data, live)
    SELECT n.user_id, kind, coalesce(n.ended_at, n.updated_at), n.id, {CALL_DATA}, false
    FROM calls n, LATERAL (VALUES ('call.finished', n.status IN {TERMINAL}),
                                  ('appointment.set', n.outcome = 'appointment_set')) k(kind, applies)
    WHERE applies AND n.user_id IS NOT NULL""",
    ]


def counters() -> list[sa.Column]:
    return [sa.Column(c, sa.BigInteger(), server_default="0", nullable=False) for c in ROLLUP_COLUMNS]


def key() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_rollups",
        *key(),
        *counters(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollups")),
        sa.UniqueConstraint(
            "user_id",
            "bucket",
            "campaign_id",
            name=op.f("uq_analytics_rollups_user_id_bucket_campaign_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index("ix_analytics_rollups_bucket", "analytics_rollups", ["bucket"])
    op.create_table(
        "analytics_rollup_deltas",
        *key(),
        *counters(),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollup_deltas")),
    )
    op.create_index("ix_analytics_rollup_deltas_user_id_bucket", "analytics_rollup_deltas", ["user_id", "bucket"])
    op.create_index("ix_analytics_rollup_deltas_bucket", "analytics_rollup_deltas", ["bucket"])
    op.create_table(
        "analytics_activity",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("data", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_analytics_activity_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_activity")),
    )
    op.create_index(
        "ix_analytics_activity_user_id_occurred_at_id", "analytics_activity", ["user_id", "occurred_at", "id"]
    )
    for statement in [*backfill(), *PUBLISH.split("\n\n")]:
        op.execute(statement)
    for table in TABLES:
        op.execute(trigger_function(table))
        for op_name in operations_of(table):
            name = f"analytics_{op_name.lower()}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {op_name} ON {table} REFERENCING {OPERATIONS[op_name]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION analytics_track_{table}()"
            )
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def downgrade() -> None:
    for table in TABLES:
        for op_name in operations_of(table):
            op.execute(f"DROP TRIGGER analytics_{op_name.lower()} ON {table}")
        op.execute(f"DROP FUNCTION analytics_track_{table}()")
    op.drop_table("analytics_activity")
    op.drop_table("analytics_rollup_deltas")
    op.drop_table("analytics_rollups")
    for function in (
        "analytics_announce_activity()",
        "analytics_announce_counters()",
        "analytics_publish(uuid[], text, jsonb)",
    ):
        op.execute(f"DROP FUNCTION {function}")

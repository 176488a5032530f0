"""The rollups equal a recount from the raw rows after any mix of writes, before and after they are folded."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from etl.load import rollups
from service.analytics.jobs import compact_rollups
from service.db import migrations
from service.db.models.analytics import COUNTERS
from service.db.pool import connect, create_pool
from service.db.vocabulary import CALL_OUTCOMES, CALL_STATUSES
from service.jobs import JobContext
from service.realtime.events import CHANNEL, PUBLISH_LOCK_ID
from tests.analytics.helpers import rolled_and_recounted

BASE = datetime(2026, 3, 28, 22, 50, tzinfo=UTC)


def moment(rng: random.Random) -> datetime:
    """Within 40 minutes of a UTC midnight, on and off quarter-hour edges."""
    return BASE + timedelta(seconds=rng.choice([0, 1, 599, 600, 899, 900, 901, 1799, 2400]))


async def random_writes(db, rng: random.Random, users, campaigns) -> None:
    """Inserts (one row and many per statement), updates of every counted column, deletes, on every table."""
    for _ in range(150):
        user = rng.choice(users)
        action = rng.randrange(12)
        call = await db.fetchval("SELECT id FROM calls WHERE user_id = $1 ORDER BY random() LIMIT 1", user)
        if action <= 2 or call is None:
            await db.execute(
                """INSERT INTO calls (id, user_id, campaign_id, status, outcome, duration_seconds, created_at)
                   SELECT gen_random_uuid(), $1, $2, $3, $4, $5, $6::timestamptz + n * interval '7 minutes'
                   FROM generate_series(1, $7) n""",
                user,
                rng.choice([None, *campaigns[user]]),
                rng.choice(CALL_STATUSES),
                rng.choice([None, *CALL_OUTCOMES]),
                rng.choice([None, 0, 45, 300]),
                moment(rng),
                rng.choice([1, 1, 5]),
            )
        elif action == 3:  # an outcome change
            await db.execute("UPDATE calls SET outcome = $2 WHERE id = $1", call, rng.choice([None, *CALL_OUTCOMES]))
        elif action == 4:  # Twilio's status and the duration, as the webhook writes them
            await db.execute(
                "UPDATE calls SET status = $2, duration_seconds = $3 WHERE id = $1",
                call,
                rng.choice(CALL_STATUSES),
                rng.randrange(600),
            )
        elif action == 5:  # the call moves campaign (or leaves it)
            await db.execute(
                "UPDATE calls SET campaign_id = $2 WHERE id = $1", call, rng.choice([None, *campaigns[user]])
            )
        elif action == 6:  # and across a bucket edge
            await db.execute("UPDATE calls SET created_at = $2 WHERE id = $1", call, moment(rng))
        elif action == 7:
            await db.execute("DELETE FROM calls WHERE id = $1", call)
        elif action == 8:
            await db.execute(
                """INSERT INTO contacts (id, user_id, first_name, created_at)
                   SELECT gen_random_uuid(), $1, 'A', $2 FROM generate_series(1, $3)""",
                user,
                moment(rng),
                rng.choice([1, 3]),
            )
            await db.execute(
                "DELETE FROM contacts WHERE id = (SELECT id FROM contacts WHERE user_id = $1 LIMIT 1) AND $2",
                user,
                rng.random() < 0.3,
            )
            await db.execute("UPDATE contacts SET last_name = 'B' WHERE user_id = $1", user)  # moves nothing
        elif action == 9:
            await db.execute(
                """INSERT INTO sms_messages (id, user_id, direction, status, body, created_at)
                   VALUES (gen_random_uuid(), $1, $2, 'sent', 'hi', $3)""",
                user,
                rng.choice(["inbound", "outbound"]),
                moment(rng),
            )
            await db.execute(
                "UPDATE sms_messages SET direction = 'inbound' WHERE id = "
                "(SELECT id FROM sms_messages WHERE user_id = $1 LIMIT 1) AND $2",
                user,
                rng.random() < 0.3,
            )
        elif action == 10:
            await db.execute(
                """INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, created_at)
                   VALUES (gen_random_uuid(), $1, $2, 0, $3, $4, $5)""",
                user,
                rng.choice([-5, -1, 2]),
                rng.choice(["debit", "refund", "grant"]),
                rng.choice(["ai.chat", "call", None]),
                moment(rng),
            )
        else:
            await db.execute(
                """INSERT INTO analytics_events (id, user_id, name, properties, occurred_at)
                   VALUES (gen_random_uuid(), $1, $2, $3, $4)""",
                user,
                rng.choice(["sms_sent", "sms_received", "ai_credits_spent", "page_view"]),
                {"amount": rng.randrange(1, 9)},
                moment(rng),
            )


async def fold(db, database_url, settings) -> None:
    """Run the compaction job once: every delta folded into the rollups."""
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await compact_rollups(JobContext(pool, settings, attempt=1, job_id=0))
    finally:
        await pool.close()
    assert await db.fetchval("SELECT count(*) FROM analytics_rollup_deltas") == 0


async def test_rollups_equal_a_recount_after_random_writes_and_after_folding(db, database_url, settings, make_user):
    rng = random.Random(15)
    users = [(await make_user()).id for _ in range(3)]
    campaigns = {}
    for user in users:
        campaigns[user] = [
            await db.fetchval(
                "INSERT INTO campaigns (id, user_id, name) VALUES (gen_random_uuid(), $1, 'C') RETURNING id", user
            )
            for _ in range(2)
        ]
    await random_writes(db, rng, users, campaigns)

    rolled, recounted = await rolled_and_recounted(db)
    assert recounted and rolled == recounted
    assert await db.fetchval("SELECT count(*) FROM analytics_rollup_deltas") > 0

    await fold(db, database_url, settings)
    assert await rolled_and_recounted(db) == (recounted, recounted)

    await random_writes(db, rng, users, campaigns)  # on top of folded rows
    rolled, recounted = await rolled_and_recounted(db)
    assert rolled == recounted


async def test_the_etl_loaders_replica_role_still_counts_and_announces_nothing(db, make_user):
    """The loader skips ordinary triggers (session_replication_role = replica); the rollup ones still run."""
    user = await make_user()
    before = await db.fetchval("SELECT count(*) FROM events")
    async with db.transaction():
        await db.execute("SET LOCAL session_replication_role = replica")
        await db.execute(
            """INSERT INTO calls (id, user_id, firebase_id, status, outcome, created_at)
               SELECT gen_random_uuid(), $1, 'calls/' || n, 'completed', 'appointment_set', $2
               FROM generate_series(1, 50) n""",
            user.id,
            BASE,
        )
    rolled, recounted = await rolled_and_recounted(db)
    assert rolled == recounted
    assert rolled[(user.id, None, BASE.replace(minute=45))][COUNTERS.index("calls_made")] == 50
    assert await db.fetchval("SELECT count(*) FROM events") == before
    # History for the feed, not live.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM analytics_activity WHERE user_id = $1 AND NOT live AND kind = 'call.finished'",
            user.id,
        )
        == 50
    )


async def test_an_import_counted_at_its_stage_end_is_exact_whatever_the_service_wrote_meanwhile(
    db, database_url, settings, make_user
):
    """etl/load/rollups.py: the loader's session skips the contacts' counts; the stage's end recounts them."""
    user = await make_user()
    imported = """INSERT INTO contacts (id, user_id, firebase_id, created_at)
                  SELECT gen_random_uuid(), $1, 'contacts/' || n, $2::timestamptz + n * interval '7 minutes'
                  FROM generate_series($3::int, $4::int) n"""
    service = await connect(database_url)
    try:
        await rollups.defer(db, "contacts")
        async with rollups.deferred(db, "contacts"):
            await db.execute(imported, user.id, BASE, 1, 30)
            assert await db.fetchval("SELECT count(*) FROM analytics_rollup_deltas WHERE contacts_added <> 0") == 0
            # Meanwhile the service adds a contact, moves an imported one to another quarter hour, deletes one,
            # and the job folds the deltas: each counted by its own trigger, in its own transaction.
            await service.execute(
                "INSERT INTO contacts (id, user_id, created_at) VALUES (gen_random_uuid(), $1, $2)", user.id, BASE
            )
            await service.execute(
                "UPDATE contacts SET created_at = created_at + interval '1 hour' WHERE firebase_id = 'contacts/1'"
            )
            await service.execute("DELETE FROM contacts WHERE firebase_id = 'contacts/2'")
            await fold(db, database_url, settings)
            rolled, recounted = await rolled_and_recounted(db)
            assert rolled != recounted
            async with db.transaction():
                await rollups.count(db, "contacts")
        assert await db.fetchval("SELECT current_setting($1, true)", rollups.SETTING) == ""
        rolled, recounted = await rolled_and_recounted(db)
        assert rolled == recounted
        added = await db.fetch(
            "SELECT (data->>'count')::int, live FROM analytics_activity WHERE kind = 'contacts.added' ORDER BY 2"
        )
        assert [tuple(r) for r in added] == [(29, False), (1, True)]  # the import's 29 left, the service's 1

        await db.execute(imported, user.id, BASE, 31, 32)  # after the stage: counted row by row again
        rolled, recounted = await rolled_and_recounted(db)
        assert rolled == recounted
        assert await db.fetchval("SELECT count(*) FROM analytics_activity WHERE kind = 'contacts.added'") == 3
    finally:
        await service.close()


async def test_the_migration_publishes_as_the_platform_does():
    from importlib import import_module

    migration = import_module("reachimpact_alembic.versions.0009_analytics_rollups")
    assert (migration.PUBLISH_LOCK_ID, migration.CHANNEL) == (PUBLISH_LOCK_ID, CHANNEL)
    assert migration.ROLLUP_COLUMNS == COUNTERS
    assert migration.BUCKET == rollups.QUARTER  # the import's count at its stage end buckets as the triggers do


def test_the_backfill_counts_rows_written_before_the_migration(empty_database):
    migrations.upgrade(empty_database, "0006")

    async def before() -> None:
        db = await connect(empty_database)
        user = await db.fetchval("INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'a@b.c') RETURNING id")
        await random_writes(db, random.Random(9), [user], {user: []})
        await db.close()

    async def after() -> tuple[dict, dict, int]:
        db = await connect(empty_database)
        rolled, recounted = await rolled_and_recounted(db)
        finished = await db.fetchval(
            "SELECT count(*) FROM calls WHERE status IN ('completed', 'busy', 'failed', 'no-answer', 'canceled')"
        )
        feed = await db.fetchval("SELECT count(*) FROM analytics_activity WHERE kind = 'call.finished'")
        await db.close()
        return rolled, recounted, finished - feed

    asyncio.run(before())
    migrations.upgrade(empty_database)
    rolled, recounted, missing = asyncio.run(after())
    assert recounted and rolled == recounted
    assert missing == 0

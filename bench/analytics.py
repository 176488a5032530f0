"""Analytics at scale: 1,000,000 calls over 1,000 users and 90 days, read with and without the rollups.

It creates a scratch database on the given server, migrates it, generates users, contacts, campaigns (with
members) and calls in SQL (generate_series; the rollup triggers run as for any writer), folds the deltas as the
periodic job does, then times what the routes run (AnalyticsService's repository calls: SQL plus decoding, no
HTTP) for random users:
- the overview of the last 30 days, a 90-day daily series in America/New_York and a campaign's funnel, each
  from the rollups (what the routes read) and from the raw rows (the recount);
- the trigger cost: the same single-row writes and a bulk insert with the analytics triggers on and off;
- the same for a dialer's account with `--export-rows` calls (where rows outnumber quarter hours);
- the CSV export of that account: rows/s, and the Python heap's peak (tracemalloc) for
  that size and a tenth of it (flat means it does not grow with the export).

    .venv/bin/python bench/analytics.py --server-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import fresh_database

from service.analytics import repository
from service.analytics.export import csv_stream
from service.analytics.service import EXPORT_BATCH
from service.db import migrations
from service.db.pool import create_pool

USERS = """
INSERT INTO users (id, email, full_name)
SELECT gen_random_uuid(), 'bench' || i || '@example.com', 'Bench ' || i FROM generate_series(1, $1) i
"""
CONTACTS = """
INSERT INTO contacts (id, user_id, first_name, phone, created_at)
SELECT gen_random_uuid(), u.id, 'Contact ' || i, '+1415' || lpad((u.n * 1000 + i)::text, 7, '0'),
       now() - random() * interval '90 days'
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) u, generate_series(1, $1) i
"""
CAMPAIGNS = """
INSERT INTO campaigns (id, user_id, name, status)
SELECT gen_random_uuid(), u.id, 'Campaign ' || i, 'active' FROM users u, generate_series(1, $1) i
"""
MEMBERS = """
INSERT INTO campaign_contacts (campaign_id, contact_id)
SELECT g.id, k.id FROM campaigns g
JOIN LATERAL (SELECT id FROM contacts WHERE user_id = g.user_id ORDER BY random() LIMIT $1) k ON true
"""
# Each user's calls spread over the last 90 days, three in four in a campaign, a realistic status/outcome mix.
CALLS = """
WITH u AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users WHERE email LIKE 'bench%'),
     g AS (SELECT user_id, array_agg(id) AS ids FROM campaigns GROUP BY user_id),
     k AS (SELECT user_id, array_agg(id) AS ids FROM contacts GROUP BY user_id)
INSERT INTO calls (id, user_id, campaign_id, contact_id, status, outcome, duration_seconds, created_at)
SELECT gen_random_uuid(), u.id,
       CASE WHEN r1 < 0.75 THEN g.ids[1 + floor(r1 * 100)::int % cardinality(g.ids)] END,
       k.ids[1 + floor(r2 * cardinality(k.ids))::int],
       (ARRAY['completed','completed','completed','no-answer','busy','failed'])[1 + floor(r3 * 6)::int],
       (ARRAY['appointment_set','interested','not_interested','callback','voicemail',NULL,NULL,NULL])
           [1 + floor(r2 * 8)::int],
       floor(r3 * 300)::int,
       now() - r4 * interval '90 days'
FROM (SELECT i, random() r1, random() r2, random() r3, random() r4 FROM generate_series(1, $1) i) s
JOIN u ON u.n = s.i % $2
JOIN g ON g.user_id = u.id JOIN k ON k.user_id = u.id
"""
TRIGGERED = ("calls", "contacts", "campaigns")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms   (n={len(ordered)})"


async def timed(make: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await make()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def generate(pool, users: int, calls: int, contacts: int, campaigns: int) -> None:
    started = time.perf_counter()
    async with pool.acquire() as connection:
        await connection.execute(USERS, users)
        await connection.execute(CONTACTS, contacts)
        await connection.execute(CAMPAIGNS, campaigns)
        await connection.execute(MEMBERS, contacts // 2)
        generated = time.perf_counter()
        await connection.execute(CALLS, calls, users)
        print(
            f"generated {users:,} users, {users * contacts:,} contacts, {calls:,} calls "
            f"in {time.perf_counter() - started:.1f} s (the calls: {time.perf_counter() - generated:.1f} s)"
        )
        folding = time.perf_counter()
        while await repository.fold_deltas(pool, 50_000) == 50_000:
            pass
        rollups = await connection.fetchval("SELECT count(*) FROM analytics_rollups")
        print(f"folded the deltas into {rollups:,} rollup rows in {time.perf_counter() - folding:.1f} s")
        await connection.execute("VACUUM ANALYZE")


async def reads(pool, runs: int, raw_runs: int, heavy: uuid.UUID) -> None:
    users = [r["id"] for r in await pool.fetch("SELECT id FROM users WHERE email LIKE 'bench%'")]
    campaigns = {
        r["user_id"]: r["id"] for r in await pool.fetch("SELECT DISTINCT ON (user_id) user_id, id FROM campaigns")
    }
    tz = "America/New_York"
    today = datetime.now(UTC).date() + timedelta(days=1)
    end = datetime.combine(today, clock(), UTC)
    rng = random.Random(15)
    cases = {
        "overview, 30 days": lambda source: repository.overview(
            pool, rng.choice(users), end - timedelta(days=30), end, None, source
        ),
        "daily series, 90 days, America/New_York": lambda source: repository.series(
            pool, rng.choice(users), end - timedelta(days=90), end, None, "day", tz, source
        ),
        "campaign funnel, 90 days": lambda source: (
            lambda user: repository.campaign(pool, user, campaigns[user], end - timedelta(days=90), end, tz, source)
        )(rng.choice(users)),
        "heavy user: overview, 30 days": lambda source: repository.overview(
            pool, heavy, end - timedelta(days=30), end, None, source
        ),
        "heavy user: daily series, 90 days": lambda source: repository.series(
            pool, heavy, end - timedelta(days=90), end, None, "day", tz, source
        ),
    }
    for name, case in cases.items():
        await timed(lambda case=case: case("rollups"), 5)  # warm the plans and the cache
        with_rollups = await timed(lambda case=case: case("rollups"), runs)
        without = await timed(lambda case=case: case("rows"), raw_runs)
        print(f"{name:42s} rollups: {percentiles(with_rollups)}")
        print(f"{'':42s} rows:    {percentiles(without)}")


async def trigger_cost(pool, writes: int, bulk: int) -> None:
    """The same writes with the analytics triggers on, then off (ALTER TABLE ... DISABLE TRIGGER)."""
    user = await pool.fetchval("SELECT id FROM users LIMIT 1")

    async def single_writes() -> float:
        started = time.perf_counter()
        async with pool.acquire() as connection:
            for _ in range(writes):
                async with connection.transaction():
                    call = await connection.fetchval(
                        "INSERT INTO calls (id, user_id, status) VALUES (gen_random_uuid(), $1, 'ringing') "
                        "RETURNING id",
                        user,
                    )
                async with connection.transaction():
                    await connection.execute(
                        "UPDATE calls SET status = 'completed', duration_seconds = 60 WHERE id = $1", call
                    )
        return (time.perf_counter() - started) * 1e6 / (2 * writes)

    async def bulk_insert() -> float:
        started = time.perf_counter()
        await pool.execute(
            """INSERT INTO calls (id, user_id, firebase_id, status, outcome, created_at)
               SELECT gen_random_uuid(), $1, 'bench/' || gen_random_uuid(), 'completed', 'interested',
                      now() - i * interval '1 second' FROM generate_series(1, $2) i""",
            user,
            bulk,
        )
        return time.perf_counter() - started

    async def triggers(state: str) -> None:
        for table in TRIGGERED:
            for trigger in await pool.fetch(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'analytics_%'", table
            ):
                await pool.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger['tgname']}")

    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for _ in range(2):  # interleaved: on, off, on, off
        for state, sql_state in (("on", "ENABLE ALWAYS"), ("off", "DISABLE")):
            await triggers(sql_state)
            results[state].append((await single_writes(), await bulk_insert()))
    await triggers("ENABLE ALWAYS")
    for state, rows in results.items():
        singles = ", ".join(f"{s:.0f}" for s, _ in rows)
        bulks = ", ".join(f"{b:.2f}" for _, b in rows)
        print(
            f"triggers {state:3s}: single-row write (own transaction) {singles} µs;  "
            f"bulk insert of {bulk:,} calls {bulks} s"
        )


async def heavy_user(pool, count: int) -> uuid.UUID:
    """A dialer's account: `count` calls, one every 10 seconds (200,000 is 23 days)."""
    user = await pool.fetchval(
        "INSERT INTO users (id, email) VALUES (gen_random_uuid(), $1) RETURNING id", f"heavy{count}@example.com"
    )
    await pool.execute(
        """INSERT INTO calls (id, user_id, status, outcome, duration_seconds, phone_number, notes, created_at)
           SELECT gen_random_uuid(), $1, 'completed', 'callback', i % 300, '+14155550100', 'note ' || i,
                  now() - i * interval '10 seconds' FROM generate_series(1, $2) i""",
        user,
        count,
    )
    return user


async def export(pool, small: uuid.UUID, big: uuid.UUID) -> None:
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=400)

    async def drain(user: uuid.UUID) -> tuple[int, int]:
        count = size = 0
        async for chunk in csv_stream(repository.export_batches(pool, user, start, end, None, EXPORT_BATCH), "UTC"):
            count += chunk.count(b"\r\n")
            size += len(chunk)
        return count - 1, size

    started = time.perf_counter()
    count, size = await drain(big)
    elapsed = time.perf_counter() - started
    print(f"export: {count:,} rows, {size / 1e6:.1f} MB in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s")
    for user in (small, big):
        tracemalloc.start()
        count, _ = await drain(user)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"export of {count:,} rows: Python heap peak {peak / 1e6:.2f} MB")


async def run(url: str, args: argparse.Namespace) -> None:
    pool = await create_pool(url, min_size=2, max_size=4)
    try:
        await generate(pool, args.users, args.calls, args.contacts, args.campaigns)
        small, big = await heavy_user(pool, args.export_rows // 10), await heavy_user(pool, args.export_rows)
        while await repository.fold_deltas(pool, 50_000) == 50_000:
            pass
        await pool.execute("ANALYZE")
        await reads(pool, args.runs, args.raw_runs, big)
        await trigger_cost(pool, args.writes, args.bulk)
        await export(pool, small, big)
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server-url", default="", help="a PostgreSQL server (default: the embedded one)")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=50, help="per user")
    parser.add_argument("--campaigns", type=int, default=5, help="per user")
    parser.add_argument("--runs", type=int, default=300, help="timed reads per case from the rollups")
    parser.add_argument("--raw-runs", type=int, default=60, help="timed reads per case from the raw rows")
    parser.add_argument("--writes", type=int, default=500, help="single-row insert + update pairs per round")
    parser.add_argument("--bulk", type=int, default=100_000, help="calls per bulk insert (as the ETL loads)")
    parser.add_argument("--export-rows", type=int, default=200_000, help="calls of the heavy user (exported)")
    arguments = parser.parse_args()
    with fresh_database(arguments.server_url, "ri_bench_analytics") as database:
        migrations.upgrade(database)
        asyncio.run(run(database, arguments))

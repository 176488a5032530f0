"""ETL load benchmark: a synthetic snapshot (users, contacts, calls) loaded by ``etl load``, against a plain
COPY of the very same rows into bare copies of the same tables, in the same run and database server.

    .venv/bin/python bench/etl_load.py                    # 100k and 1M documents
    .venv/bin/python bench/etl_load.py --sizes 200000     # one size

For each size: generate the snapshot (cached under bench/.data), load it into a fresh database in a child
process (its peak RSS is the load's alone), then COPY the loaded rows back in, binary, into
``CREATE TABLE bare_x (LIKE x INCLUDING ALL)`` tables: same columns, defaults, checks and indexes, no foreign
keys, no staging, no upsert. Reports rows/s of both, their ratio, and the load's peak RSS.
Uses DATABASE_URL's server if set, else the embedded one under bench/.data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.snapshot import AuthUser, Document, Snapshot, SnapshotWriter  # noqa: E402
from service.db import migrations  # noqa: E402
from service.db.embedded import normalize_url, start_embedded_server  # noqa: E402

DATA = ROOT / "bench" / ".data"
TABLES = ("users", "contacts", "calls")
STATUSES = ("new", "contacted", "interested", "Not Interested", "converted")
CALL_STATUSES = ("completed", "busy", "no-answer", "failed", "in-progress")


def _ts(rng: random.Random) -> dict:
    return {
        "timestampValue": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}Z"
    }


def _s(value: str) -> dict:
    return {"stringValue": value}


def generate(directory: Path, documents: int) -> None:
    """1% users (each with an Auth user), 60% contacts, the rest calls."""
    rng = random.Random(documents)
    users, contacts = max(documents // 100, 1), documents * 60 // 100
    calls = documents - users - contacts
    with SnapshotWriter(directory, sources=[f"bench:{documents}"], checkpoint_every=100_000) as writer:
        writer.read_time = "2024-12-31T00:00:00Z"
        for i in range(users):
            writer.write_auth_user(
                AuthUser(
                    uid=f"u{i}",
                    email=f"user{i}@example.com",
                    email_verified=True,
                    password_hash="aGFzaA==",
                    salt="c2FsdA==",
                    providers=["password"],
                    created_at=1_700_000_000_000 + i,
                ),
                unit="auth",
                cursor=None,
            )
            writer.write_document(
                Document(
                    f"users/u{i}",
                    {
                        "fullName": _s(f"User {i}"),
                        "companyName": _s(f"Company {i % 997}"),
                        "credits": {"integerValue": "50"},
                        "industry": _s("Solar"),
                        "createdAt": _ts(rng),
                    },
                ),
                unit="docs",
                cursor=None,
            )
        for i in range(contacts):
            writer.write_document(
                Document(
                    f"contacts/c{i}",
                    {
                        "userId": _s(f"u{rng.randrange(users)}"),
                        "firstName": _s(f"First{i}"),
                        "lastName": _s(f"Last{i % 5000}"),
                        "phone": _s(f"+1 (415) 5{i % 100:02d}-{i % 10000:04d}"),
                        "email": _s(f"contact{i}@example.org"),
                        "company": _s(f"Prospect {i % 3001}"),
                        "tags": {"arrayValue": {"values": [_s("lead"), _s("2024")]}},
                        "status": _s(STATUSES[i % len(STATUSES)]),
                        "notes": _s("Met at the fair; call back in spring."),
                        "createdAt": _ts(rng),
                        "leadScore": {"integerValue": str(i % 100)},
                    },
                ),
                unit="docs",
                cursor=None,
            )
        for i in range(calls):
            writer.write_document(
                Document(
                    f"calls/x{i}",
                    {
                        "userId": _s(f"u{rng.randrange(users)}"),
                        "contactId": _s(f"c{rng.randrange(contacts)}"),
                        "twilioSid": _s(f"CA{i:032x}"),
                        "status": _s(CALL_STATUSES[i % len(CALL_STATUSES)]),
                        "direction": _s("outbound-api"),
                        "duration": {"integerValue": str(i % 600)},
                        "transcription": _s("Hello, this is ReachImpact calling about your solar quote."),
                        "sentiment": _s("positive")
                        if i % 2
                        else {"mapValue": {"fields": {"score": {"doubleValue": 0.5}}}},
                        "createdAt": _ts(rng),
                    },
                ),
                unit="docs",
                cursor=None,
            )
        writer.finish()


def _child_load(dsn: str, snapshot: str, batch_size: str) -> None:
    """Runs in the child: load as ``etl load`` does (staging worker included), then print seconds, rows and the
    peak RSS of this process plus that of its worker (an upper bound of the two together)."""
    import resource

    from etl.load.loader import load
    from service.db.pool import connect

    async def run() -> dict:
        connection = await connect(dsn)
        started = time.perf_counter()
        result = await load(connection, Snapshot(Path(snapshot)), batch_size=int(batch_size), dsn=dsn)
        seconds = time.perf_counter() - started
        await connection.close()
        rows = sum(c.inserted for c in result.stages.values())
        return {"seconds": seconds, "rows": rows}

    outcome = asyncio.run(run())
    peaks = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    outcome["max_rss_mb"] = sum(peaks) / 1024
    print(json.dumps(outcome))


async def _plain_copy(dsn: str) -> dict:
    """COPY the loaded rows, binary, into bare copies of the tables; only the COPY in is timed."""
    connection = await asyncpg.connect(dsn)
    seconds, rows = 0.0, 0
    with tempfile.TemporaryDirectory() as scratch:
        for table in TABLES:
            columns = [
                r[0]
                for r in await connection.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass"
                    " AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                    table,
                )
            ]
            dump = Path(scratch) / f"{table}.bin"
            await connection.copy_from_query(
                f"SELECT {', '.join(columns)} FROM {table}", output=str(dump), format="binary"
            )
            await connection.execute(
                f"DROP TABLE IF EXISTS bare_{table}; CREATE TABLE bare_{table} (LIKE {table} INCLUDING ALL)"
            )
            await connection.execute("CHECKPOINT")
            started = time.perf_counter()
            await connection.copy_to_table(f"bare_{table}", source=str(dump), columns=columns, format="binary")
            seconds += time.perf_counter() - started
            rows += await connection.fetchval(f"SELECT count(*) FROM bare_{table}")
    await connection.close()
    return {"seconds": seconds, "rows": rows}


async def _fresh_database(server: str, name: str) -> str:
    admin = await asyncpg.connect(server)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    base, _, query = server.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


async def _disable_analytics_triggers(dsn: str) -> None:
    """For the A/B of what the analytics triggers (docs/analytics.md) cost the load."""
    connection = await asyncpg.connect(dsn)
    triggers = await connection.fetch(
        "SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger WHERE tgname LIKE 'analytics_%'"
    )
    for row in triggers:
        await connection.execute(f'ALTER TABLE {row["t"]} DISABLE TRIGGER "{row["tgname"]}"')
    await connection.close()


def bench(server: str, documents: int, batch_size: int, analytics_triggers: bool = True) -> dict:
    snapshot = DATA / f"snapshot-{documents}"
    if not (snapshot / "manifest.json").exists():
        started = time.perf_counter()
        generate(snapshot, documents)
        print(f"generated {documents} documents in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    dsn = asyncio.run(_fresh_database(server, f"bench_etl_{documents}"))
    migrations.upgrade(dsn)
    if not analytics_triggers:
        asyncio.run(_disable_analytics_triggers(dsn))
    child = subprocess.run(
        [sys.executable, __file__, "--child", dsn, str(snapshot), str(batch_size)],
        check=True,
        capture_output=True,
        text=True,
    )
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    copied = asyncio.run(_plain_copy(dsn))
    return {
        "documents": documents,
        "load_rows_per_s": loaded["rows"] / loaded["seconds"],
        "copy_rows_per_s": copied["rows"] / copied["seconds"],
        "ratio": (loaded["rows"] / loaded["seconds"]) / (copied["rows"] / copied["seconds"]),
        "load_seconds": loaded["seconds"],
        "copy_seconds": copied["seconds"],
        "rows": loaded["rows"],
        "max_rss_mb": loaded["max_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated document counts")
    parser.add_argument("--batch-size", type=int, default=5000, help="documents per load transaction")
    parser.add_argument(
        "--analytics-triggers",
        default="on",
        help="comma-separated on/off per run, e.g. on,off,on,off: loads with the analytics triggers disabled too",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_load(*args.child)
        return
    DATA.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL")
    server = normalize_url(url) if url else start_embedded_server(DATA / "pg", "postgres")
    print(
        "| documents | analytics triggers | rows loaded | load rows/s | plain COPY rows/s | load / COPY "
        "| load peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for triggers in args.analytics_triggers.split(","):
            r = bench(server, size, args.batch_size, triggers == "on")
            print(
                f"| {r['documents']:,} | {triggers} | {r['rows']:,} | {r['load_rows_per_s']:,.0f} "
                f"| {r['copy_rows_per_s']:,.0f} | {r['ratio']:.0%} | {r['max_rss_mb']:.0f} MB |",
                flush=True,
            )


if __name__ == "__main__":
    main()

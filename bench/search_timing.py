"""Contact search latency over 100,000 contacts of one owner (goal: under 50 ms).

It creates a scratch database on the given server, migrates it, loads N contacts for one user (plus as many for
a second user, so the owner filter has work to do), then times the exact statement GET /api/contacts/search runs
(service.contacts.repository) for a set of queries, and prints the median and p95 of each.

    .venv/bin/python bench/search_timing.py --server-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.contacts.repository import ListFilter, list_page
from service.db import migrations
from service.db.pool import create_pool

# Realistic-ish data: accented names, companies, e-mails and phone numbers, all generated in SQL.
LOAD = """
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, company, created_at)
SELECT gen_random_uuid(), $1,
       (ARRAY['Ada','René','Zoë','José','Grace','Håkon','Chloé','Ngozi','Ming','Olga'])[1 + i % 10] || (i % 997),
       (ARRAY['Lovelace','Müller','Dupont','García','Hopper','Nakamura','O''Brien','Kowalski'])[1 + i % 8] || i,
       'person' || i || '@' || (ARRAY['example.com','acme.io','mail.fr','corp.de'])[1 + i % 4],
       '+1' || (2000000000 + i * 7919 % 7999999999)::text,
       (ARRAY['Acme','Globex','Initech','Umbrella','Stark','Wayne','Cyberdyne','Soylent'])[1 + i % 8] || ' ' || i % 500,
       now() - make_interval(secs => i)
FROM generate_series(1, $2) AS i
"""
QUERIES = {
    "rare word (one hit)": "lovelace12344",
    "accent-insensitive name": "rene",
    "accent-insensitive, rare": "muller12345",
    "common company prefix": "acme",
    "e-mail fragment": "person4242@",
    "phone fragment": "5551",
    "no match": "zzzzqqq",
    "two letters": "ad",
}


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def time_query(pool: asyncpg.Pool, owner: uuid.UUID, q: str, runs: int) -> tuple[float, float, int]:
    where = ListFilter(search=q)
    timings, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(await list_page(pool, owner, where, 100))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], min(found, 100)


async def main(server_url: str, contacts: int, runs: int) -> None:
    name = f"ri_search_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f"CREATE DATABASE {name}")
    url = with_database(server_url, name)
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        pool = await create_pool(url, min_size=1, max_size=2)
        owner, other = uuid.uuid4(), uuid.uuid4()
        for user in (owner, other):
            await pool.execute("INSERT INTO users (id, email) VALUES ($1, $2)", user, f"{user.hex}@example.com")
            started = time.perf_counter()
            await pool.execute(LOAD, user, contacts)
            print(f"loaded {contacts} contacts in {time.perf_counter() - started:.1f}s")
        await pool.execute("ANALYZE contacts")
        print(f"\n{'query':<28} {'q':<16} {'rows':>5} {'median':>9} {'p95':>9}")
        for label, q in QUERIES.items():
            median, p95, found = await time_query(pool, owner, q, runs)
            print(f"{label:<28} {q:<16} {found:>5} {median:>7.1f}ms {p95:>7.1f}ms")
        for q in ("rene", "lovelace12344"):
            plan = await pool.fetch("EXPLAIN ANALYZE " + ListFilter(search=q).select(100), owner, q)
            print(f"\nplan of q={q}:\n" + "\n".join(row[0] for row in plan))
        await pool.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-url", required=True, help="a PostgreSQL server's maintenance database URL")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.server_url, args.contacts, args.runs))

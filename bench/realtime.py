#!/usr/bin/env python3
"""Real-time fan-out: commit -> browser delivery across two service processes, with a third process writing.

    .venv/bin/python bench/realtime.py [--server-url URL] [--clients 1000] [--rate 100] [--seconds 20]

Starts two `reachimpact serve --workers 1` processes on a fresh database of `--server-url` (a maintenance database URL;
the embedded server when empty), dropped afterwards, with the access log on as in production
(JSON lines at INFO, to a file each). Makes `--clients` users straight in the database and connects every one's
event stream (`GET /api/events`, SSE), alternating between the processes. A third process (this script again, with
`--publish`) then commits `--rate` events a second through `service.realtime.publish`, each for one random user,
and notes when each commit returned. Latency is from that moment to the moment the event's frame is read here;
both are CLOCK_MONOTONIC, which is one clock for every process of the machine. Every event must arrive exactly once,
at its user's stream only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import asyncpg
import msgspec
from harness import fresh_database, insert_users, open_event_stream, production_logging, rss_kib, services

EVENT_TYPE = "bench.tick"


class Delivery(msgspec.Struct):
    seq: int


async def publish_events(dsn: str, rate: float, seconds: float) -> None:
    """The third process: `rate` events/s for random users; prints `seq user commit_time` for each."""
    from service.db.pool import connect  # with the service's JSON codecs
    from service.realtime import publish

    connection = await connect(dsn)
    users = [row[0] for row in await connection.fetch("SELECT id FROM users")]
    start, count = time.monotonic(), int(rate * seconds)
    for seq in range(count):
        await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
        user = random.choice(users)
        async with connection.transaction():
            await publish(connection, [user], EVENT_TYPE, {"seq": seq})
        print(seq, user, time.monotonic(), flush=True)
    await connection.close()


async def listen(reader: asyncio.StreamReader, user: uuid.UUID, received: dict) -> None:
    decode = msgspec.json.Decoder(Delivery).decode
    while line := await reader.readline():
        if line.startswith(b"data:") and b'"seq"' in line:
            received.setdefault(decode(line[5:]).seq, []).append((user, time.monotonic()))


async def run(args, ports: list[int], pids: list[int], dsn: str, secret: str) -> None:
    connection = await asyncpg.connect(dsn)
    headers = await insert_users(connection, secret, args.clients)
    await connection.close()
    received: dict[int, list[tuple[uuid.UUID, float]]] = {}
    before = sum(rss_kib(p) for p in pids)
    connections = await asyncio.gather(
        *(open_event_stream(ports[i % 2], header) for i, header in enumerate(headers.values()))
    )
    streams = [
        asyncio.create_task(listen(reader, user, received))
        for (reader, _), user in zip(connections, headers, strict=True)
    ]
    await asyncio.sleep(1)
    after = sum(rss_kib(p) for p in pids)
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--publish", "--database-url", dsn,
        "--rate", str(args.rate), "--seconds", str(args.seconds),
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await publisher.communicate()
    if publisher.returncode:
        raise SystemExit("the publishing process failed")
    await asyncio.sleep(2)  # the last deliveries
    for task in streams:
        task.cancel()

    committed = {int(seq): (uuid.UUID(user), float(t)) for seq, user, t in map(str.split, out.decode().splitlines())}
    latencies, lost, duplicated, misdelivered = [], 0, 0, 0
    for seq, (user, commit_time) in committed.items():
        deliveries = received.get(seq, [])
        mine = [t for receiver, t in deliveries if receiver == user]
        misdelivered += len(deliveries) - len(mine)
        lost += not mine
        duplicated += max(0, len(mine) - 1)
        latencies.extend((t - commit_time) * 1000 for t in mine[:1])
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"{len(headers)} SSE clients on 2 processes; a third process committed {len(committed)} events")
    print(f"({args.rate:g}/s for {args.seconds} s), one user each")
    print(f"lost {lost}, duplicated {duplicated}, delivered to someone else {misdelivered}")
    print(f"commit -> delivery ms: p50 {q[49]:.1f}  p95 {q[94]:.1f}  p99 {q[98]:.1f}  max {max(latencies):.1f}")
    print(f"memory per connection: {(after - before) / len(headers):.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-url", default="")
    parser.add_argument("--database-url", help=argparse.SUPPRESS)  # the third process's database
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)  # the third process
    args = parser.parse_args()
    if args.publish:
        asyncio.run(publish_events(args.database_url, args.rate, args.seconds))
        return
    secret = secrets.token_urlsafe(48)
    with fresh_database(args.server_url, "ri_realtime") as database_url:
        measure(args, production_logging(dict(os.environ, JWT_SECRET=secret, DATABASE_URL=database_url)), secret)


def measure(args, env: dict[str, str], secret: str) -> None:
    logs = tempfile.mkdtemp(prefix="ri-realtime-")
    print(f"access logs (LOG_FORMAT={env['LOG_FORMAT']}, LOG_LEVEL={env['LOG_LEVEL']}): {logs}")
    with services(env, logs=logs) as (ports, pids):
        asyncio.run(run(args, ports, pids, env["DATABASE_URL"], secret))


if __name__ == "__main__":
    main()

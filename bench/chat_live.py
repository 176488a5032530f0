#!/usr/bin/env python3
"""Chat live delivery across two instances: send -> receive latency, lost and duplicated, memory per connection.

    .venv/bin/python bench/chat_live.py [--database-url URL] [--rooms 100] [--room-size 10] [--seconds 20]

Starts two `reachimpact serve --workers 1` processes on one database, makes `rooms x room-size` users (straight
in the database, with sessions and tokens) and as many channels, and connects every user's event stream
(`GET /api/events`, SSE), alternating between the two processes. Then each room sends one message per second,
from a random member through a random process, for `--seconds`. Every participant, the sender included, must
receive each message once. The clock is one process's monotonic clock: the send time is taken just before the
POST, the receive time when the event's frame is read.

Memory per connection: the two processes' RSS after the streams connected minus before, divided by the streams.

`--send-only` opens no streams: it measures the send side alone (the POST at the same load through both
processes) and checks in the events table that each message was published exactly once, for everyone in its room.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import msgspec
from harness import insert_users, open_event_stream, rss_kib, services

from service.db.models.base import uuid7


async def make_world(dsn: str, secret: str, rooms: int, size: int) -> tuple[list[list[uuid.UUID]], dict]:
    connection = await asyncpg.connect(dsn)
    try:
        headers = await insert_users(connection, secret, rooms * size)
        users = list(headers)
        members = [users[i * size : (i + 1) * size] for i in range(rooms)]
        room_ids = [uuid7() for _ in range(rooms)]
        await connection.executemany(
            "INSERT INTO chat_rooms (id, name, kind, created_by) VALUES ($1, 'bench', 'channel', $2)",
            [(r, m[0]) for r, m in zip(room_ids, members, strict=True)],
        )
        await connection.executemany(
            "INSERT INTO chat_participants (room_id, user_id) VALUES ($1, $2)",
            [(r, u) for r, m in zip(room_ids, members, strict=True) for u in m],
        )
    finally:
        await connection.close()
    return [[r, *m] for r, m in zip(room_ids, members, strict=True)], headers


class Receipts:
    def __init__(self) -> None:
        self.sent: dict[str, float] = {}  # clientId -> monotonic send time
        self.seen: dict[tuple[uuid.UUID, str], int] = {}  # (receiver, clientId) -> times received
        self.latencies: list[float] = []
        self.connected = 0
        self.streams = 0
        self.all_connected = asyncio.Event()


async def stream(port: int, user: uuid.UUID, headers: dict[str, str], receipts: Receipts) -> None:
    reader, _writer = await open_event_stream(port, headers)
    receipts.connected += 1
    if receipts.connected == receipts.streams:
        receipts.all_connected.set()
    decode = msgspec.json.decode
    while line := await reader.readline():
        if not line.startswith(b"data:") or b'"clientId"' not in line:
            continue
        now = time.monotonic()
        client_id = decode(line[5:]).get("message", {}).get("clientId")
        if client_id in receipts.sent:
            key = (user, client_id)
            receipts.seen[key] = receipts.seen.get(key, 0) + 1
            if receipts.seen[key] == 1:
                receipts.latencies.append((now - receipts.sent[client_id]) * 1000)


async def run(args, ports: list[int], pids: list[int], dsn: str, secret: str) -> None:
    rooms, headers = await make_world(dsn, secret, args.rooms, args.room_size)
    receipts = Receipts()
    before = sum(rss_kib(p) for p in pids)
    users = [u for room in rooms for u in room[1:]]
    receipts.streams = len(users)
    streams = []
    if not args.send_only:
        streams = [asyncio.create_task(stream(ports[i % 2], u, headers[u], receipts)) for i, u in enumerate(users)]
        await receipts.all_connected.wait()
        await asyncio.sleep(1)
    after = sum(rss_kib(p) for p in pids)
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in ports]
    send_latencies: list[float] = []
    failures = 0

    async def room_loop(room: list[uuid.UUID]) -> None:
        nonlocal failures
        room_id, members = room[0], room[1:]
        await asyncio.sleep(random.random())  # spread the rooms over the second
        deadline = time.monotonic() + args.seconds
        while (started := time.monotonic()) < deadline:
            sender, client_id = random.choice(members), str(uuid.uuid4())
            receipts.sent[client_id] = started
            response = await random.choice(clients).post(
                f"/api/chat/rooms/{room_id}/messages",
                json={"content": "bench", "clientId": client_id},
                headers=headers[sender],
            )
            send_latencies.append((time.monotonic() - started) * 1000)
            failures += response.status_code != 201
            await asyncio.sleep(max(0.0, 1 - (time.monotonic() - started)))

    await asyncio.gather(*(room_loop(room) for room in rooms))
    await asyncio.sleep(3)  # the last deliveries
    for task in streams:
        task.cancel()
    for client in clients:
        await client.aclose()

    s = statistics.quantiles(send_latencies, n=100) if len(send_latencies) > 1 else [0.0] * 99
    print(f"{args.rooms} rooms of {args.room_size} on 2 processes, 1 message/s per room, {args.seconds} s")
    print(f"messages sent: {len(receipts.sent)} ({failures} failed)")
    print(f"POST round trip ms: p50 {s[49]:.1f}  p95 {s[94]:.1f}  p99 {s[98]:.1f}")
    if args.send_only:
        await published_once(dsn, receipts, args.room_size)
        return
    expected = len(receipts.sent) * args.room_size
    delivered = len(receipts.seen)
    duplicated = sum(n - 1 for n in receipts.seen.values())
    q = statistics.quantiles(receipts.latencies, n=100) if len(receipts.latencies) > 1 else [0.0] * 99
    print(f"{len(users)} streams; deliveries expected {expected}")
    print(f"lost: {expected - delivered}; duplicated: {duplicated}")
    print(f"send -> receive ms: p50 {q[49]:.1f}  p95 {q[94]:.1f}  p99 {q[98]:.1f}")
    print(f"memory per connection: {(after - before) / len(users):.1f} KiB (RSS {before} -> {after} KiB)")


async def published_once(dsn: str, receipts: Receipts, room_size: int) -> None:
    """Each sent message has exactly one chat.message event, addressed to the whole room."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT data #>> '{message,clientId}' AS client_id, count(*) AS n, max(cardinality(audience)) AS people"
            " FROM events WHERE type = 'chat.message' GROUP BY 1"
        )
    finally:
        await connection.close()
    published = {row["client_id"]: row for row in rows if row["client_id"] in receipts.sent}
    missing = len(receipts.sent) - len(published)
    twice = sum(row["n"] - 1 for row in published.values())
    short = sum(row["people"] != room_size for row in published.values())
    print(f"events: missing {missing}, duplicated {twice}, with a wrong audience {short}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--send-only", action="store_true", help="no streams: the send side and the events rows")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(48)
    env = dict(os.environ, LOG_LEVEL="WARNING", JWT_SECRET=secret, CHAT_MAX_MESSAGES_PER_WINDOW="1000000")
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        from service.db.embedded import start_embedded_server

        env["DATABASE_URL"] = start_embedded_server(Path(".data"))
    with services(env) as (ports, pids):
        asyncio.run(run(args, ports, pids, env["DATABASE_URL"], secret))


if __name__ == "__main__":
    main()

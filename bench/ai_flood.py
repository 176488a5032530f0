#!/usr/bin/env python3
"""AI routes under a flood: N concurrent chat requests against a loopback OpenAI that answers in 500 ms.

    .venv/bin/python bench/ai_flood.py [--database-url URL] [--requests 200] [--users 50] [--credits 3]
                                       [--delay 0.5] [--workers 1]

Starts the loopback OpenAI (tests/fakes/openai) and `reachimpact serve` (`--workers`, 1) on a fresh database, gives
`--users` accounts `--credits` credits each, and fires `--requests` POST /api/openai/chat at once (spread evenly
over the users, so with the defaults 150 succeed and 50 are refused with 402). Meanwhile it probes GET /health
every 10 ms. Prints throughput, the latencies of both, and the credit checks: the charged reservations sum to
what the ledger took, no balance is negative, one charge per 200 answer and none for the others.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from harness import BIN, free_port, fresh_database, start_server

from service.auth.tokens import TokenService
from service.config import Settings

REPO = Path(__file__).resolve().parents[1]
FAKE_KEY = "sk-fake-openai-key-for-tests"
MESSAGES = [{"role": "user", "content": "What can ReachImpact do for a solar installer?"}]


async def arrange(dsn: str, users: int, credits: int, tokens: TokenService) -> list[str]:
    """One bearer token per new user holding `credits`."""
    connection = await asyncpg.connect(dsn)
    try:
        issued = []
        for index in range(users):
            user_id, session_id = uuid.uuid4(), uuid.uuid4()
            await connection.execute(
                "INSERT INTO users (id, email, credits) VALUES ($1, $2, $3)", user_id, f"u{index}@bench.local", credits
            )
            await connection.execute(
                "INSERT INTO auth_sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
                session_id,
                user_id,
            )
            issued.append(tokens.issue(user_id=user_id, session_id=session_id, role="customer")[0])
        return issued
    finally:
        await connection.close()


async def flood(base: str, tokens: list[str], requests: int) -> tuple[list[int], float, list[float], list[float]]:
    """(statuses, seconds for all, chat latencies ms, /health latencies ms during the flood)."""
    health: list[float] = []
    done = threading.Event()

    def probe() -> None:
        """From a thread of its own, so the flood's client-side work does not count as the server's latency."""
        with httpx.Client(base_url=base, timeout=30) as prober:
            while not done.is_set():
                started = time.perf_counter()
                prober.get("/health")
                health.append((time.perf_counter() - started) * 1000)
                time.sleep(0.01)

    limits = httpx.Limits(max_connections=requests + 10)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def chat(token: str) -> tuple[int, float]:
            started = time.perf_counter()
            response = await client.post(
                "/api/openai/chat", json={"messages": MESSAGES}, headers={"Authorization": f"Bearer {token}"}
            )
            return response.status_code, (time.perf_counter() - started) * 1000

        prober = threading.Thread(target=probe)
        prober.start()
        await asyncio.sleep(0.2)  # a few probes of the idle server first
        started = time.perf_counter()
        results = await asyncio.gather(*(chat(tokens[i % len(tokens)]) for i in range(requests)))
        elapsed = time.perf_counter() - started
        done.set()
        prober.join()
    return [status for status, _ in results], elapsed, [ms for _, ms in results], health


async def verify(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT (SELECT coalesce(sum(amount), 0) FROM credit_reservations WHERE status = 'charged') AS charged,
                   (SELECT count(*) FROM credit_reservations WHERE status = 'charged') AS charges,
                   (SELECT count(*) FROM credit_reservations WHERE status <> 'charged') AS unsettled_or_refunded,
                   (SELECT -coalesce(sum(delta), 0) FROM credit_ledger) AS ledger_taken,
                   (SELECT count(*) FROM users WHERE credits < 0) AS negative
            """
        )
        return dict(row)
    finally:
        await connection.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (values or [0.0])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--credits", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=1, help="`reachimpact serve --workers`")
    args = parser.parse_args()

    with fresh_database(args.database_url, "bench_ai") as dsn:
        run(dsn, args)


def run(dsn: str, args: argparse.Namespace) -> None:
    fake_port, port = free_port(), free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai", "--port", str(fake_port), "--delay", str(args.delay)],
        cwd=REPO,
        start_new_session=True,
    )
    secret = secrets.token_urlsafe(48)
    env = dict(
        os.environ,
        DATABASE_URL=dsn,
        LOG_LEVEL="WARNING",
        JWT_SECRET=secret,
        OPENAI_API_KEY=FAKE_KEY,
        OPENAI_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
    )
    service = start_server(
        [str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", str(args.workers)], port, env
    )
    try:
        tokens = asyncio.run(arrange(dsn, args.users, args.credits, TokenService(Settings(jwt_secret=secret))))
        statuses, elapsed, chats, health = asyncio.run(flood(f"http://127.0.0.1:{port}", tokens, args.requests))
        checks = asyncio.run(verify(dsn))
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        os.killpg(fake.pid, signal.SIGTERM)
        service.wait(30)
        fake.wait(30)
    ok = statuses.count(200)
    print(f"{args.requests} concurrent chat requests, OpenAI fake answering in {args.delay * 1000:.0f} ms")
    print(f"answers: {ok} x 200, {statuses.count(402)} x 402, other {args.requests - ok - statuses.count(402)}")
    print(f"all done in {elapsed:.2f} s: {args.requests / elapsed:.0f} req/s ({ok / elapsed:.0f} answered/s)")
    print(f"chat latency p50 {percentile(chats, 50):.0f} ms  p99 {percentile(chats, 99):.0f} ms")
    print(f"/health during the flood: {len(health)} probes, p50 {percentile(health, 50):.1f} ms  "
          f"p99 {percentile(health, 99):.1f} ms  max {max(health):.1f} ms")  # fmt: skip
    print(
        f"credits: charged {checks['charged']} = ledger took {checks['ledger_taken']}; "
        f"charges {checks['charges']} for {ok} answers (double charges: {checks['charges'] - ok}); "
        f"other reservations {checks['unsettled_or_refunded']}; negative balances {checks['negative']}"
    )


if __name__ == "__main__":
    main()

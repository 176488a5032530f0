#!/usr/bin/env python3
"""Does a login flood starve other requests, and do the login limits let it in while slowing attackers?

    .venv/bin/python bench/login_flood.py [--database-url URL] [--seconds 10] [--logins 50]

Starts `reachimpact serve --workers 1` with production password hashing (argon2id, OWASP parameters), registers
one account per concurrent login, then runs wrk on /health twice: alone, and while `--logins` clients log in
over and over (each waits for its answer, then logs in again). Meanwhile two attackers guess wrong passwords
as fast as they are answered: one at one of those accounts from one address, one at random e-mails from another
(credential stuffing); the flood comes from a third. Prints /health p50/p99 both times, the login rate and
latency, how many right logins were accepted, and how many guesses were checked (401) against refused (429).
Needs wrk (apt-get install wrk).

It also times the authentication check every API request pays (in-process, no server): a verified-token cache
hit against a full pyjwt verification.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import time
import timeit
import uuid
from pathlib import Path

import httpx
import jwt
from harness import BIN, free_port, start_server, wrk

PASSWORD = "Bench-password-1"


def start_service(port: int, env: dict[str, str]) -> subprocess.Popen:
    return start_server([str(BIN / "reachimpact"), "serve", "--port", str(port), "--workers", "1"], port, env)


def wrk_health(base: str, seconds: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of GET /health with 4 connections: a probe, not a load."""
    figures = wrk(f"{base}/health", seconds, threads=1, connections=4)
    return figures["rate"], figures["p50"], figures["p99"]


async def register_accounts(base: str, count: int) -> list[str]:
    emails = [f"flood-{secrets.token_hex(4)}-{i}@example.com" for i in range(count)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for email in emails:
            response = await client.post(
                "/api/auth/register", json={"email": email, "password": PASSWORD, "fullName": "Flood"}
            )
            response.raise_for_status()
    return emails


async def flood(base: str, emails: list[str], stop: asyncio.Event) -> tuple[list[float], int]:
    """Every account logs in again as soon as its previous login answered; returns latencies (ms), failures."""
    latencies: list[float] = []
    failures = 0

    async def one(client: httpx.AsyncClient, email: str) -> None:
        nonlocal failures
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD},
                                         headers={"X-Auth-Mode": "bearer"})  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status_code != 200

    limits = httpx.Limits(max_connections=len(emails))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client, email) for email in emails))
    return latencies, failures


async def attack(base: str, address: str, victim: str | None, stop: asyncio.Event) -> dict[int, int]:
    """Wrong passwords from `address` (at `victim`, or a new e-mail each time) until stopped: status -> count."""
    answers: dict[int, int] = {}
    headers = {"X-Auth-Mode": "bearer", "X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while not stop.is_set():
            email = victim or f"stuffed-{secrets.token_hex(4)}@example.com"
            response = await client.post("/api/auth/login", json={"email": email, "password": "guess"}, headers=headers)
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
    return answers


async def health_under_flood(base: str, emails: list[str], seconds: int) -> tuple[tuple, float, list[float], int, list]:
    """The /health probe while flooding, the flood's login rate, latencies and failures, the attackers' answers."""
    stop = asyncio.Event()
    started = time.perf_counter()
    flooding = asyncio.create_task(flood(base, emails, stop))
    attackers = [asyncio.create_task(attack(base, "203.0.113.1", emails[0], stop)),
                 asyncio.create_task(attack(base, "203.0.113.2", None, stop))]  # fmt: skip
    await asyncio.sleep(1)  # let the flood reach its steady state first
    probe = await asyncio.to_thread(wrk_health, base, seconds)
    stop.set()
    latencies, failures = await flooding
    attacks = [await attacker for attacker in attackers]
    return probe, len(latencies) / (time.perf_counter() - started), latencies, failures, attacks


def auth_check_cost() -> tuple[float, float, float]:
    """Microseconds per authentication: a fresh token (cache hit), an expired one whose session was found live
    within the last minute (no query), and a full pyjwt verification."""
    from service.auth.csrf import CsrfTokens, TrustedOrigins
    from service.auth.middleware import Authenticator
    from service.auth.revocation import RevokedSessions
    from service.auth.sessions import CurrentRoles, LiveSessions
    from service.auth.tokens import TokenService
    from service.config import Settings

    settings = Settings(env="test", jwt_secret="s" * 48).finalized()
    tokens = TokenService(settings)
    live = LiveSessions(None, settings.refresh_token_ttl_seconds)  # type: ignore[arg-type] - never queried here
    roles = CurrentRoles(None)  # type: ignore[arg-type] - customers' tokens need no role lookup
    authenticator = Authenticator(
        tokens, RevokedSessions(900), CsrfTokens(settings), TrustedOrigins(settings.trusted_origins), live, roles
    )
    authenticator.revoked.add(uuid.uuid4() for _ in range(1000))  # a busy hour of logouts
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    token, _ = tokens.issue(user_id=user_id, session_id=session_id, role="customer")
    stale_claims = jwt.decode(token, options={"verify_signature": False}) | {"exp": int(time.time()) - 60}
    stale = jwt.encode(stale_claims, settings.jwt_secret, algorithm="HS256", headers=jwt.get_unverified_header(token))
    live._checked[session_id] = (time.monotonic(), "customer")  # as after its once-a-minute database check
    runs = 20_000

    def per_call(value: str) -> float:
        scope = {"type": "http", "method": "GET", "headers": [(b"authorization", f"Bearer {value}".encode())]}

        async def loop() -> float:
            started = time.perf_counter()
            for _ in range(runs):
                await authenticator.authenticate(scope)  # type: ignore[arg-type]
            return (time.perf_counter() - started) / runs

        return asyncio.run(loop())

    fresh, expired = per_call(token), per_call(stale)
    uncached = timeit.timeit(lambda: tokens.verify(token), number=runs) / runs
    return fresh * 1e6, expired * 1e6, uncached * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--logins", type=int, default=50, help="concurrent logins")
    parser.add_argument("--hash-concurrency", type=int, default=4, help="PASSWORD_HASH_CONCURRENCY")
    args = parser.parse_args()

    env = dict(os.environ, LOG_LEVEL="WARNING", JWT_SECRET=secrets.token_urlsafe(48),
               PASSWORD_HASH_CONCURRENCY=str(args.hash_concurrency),
               # The attackers name their address in X-Forwarded-For; the flood comes from 127.0.0.1 itself.
               TRUSTED_PROXIES="127.0.0.1/32")  # fmt: skip
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        from service.db.embedded import start_embedded_server

        env["DATABASE_URL"] = start_embedded_server(Path(".data"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = start_service(port, env)
    try:
        emails = asyncio.run(register_accounts(base, args.logins))
        idle = wrk_health(base, args.seconds)
        loaded, login_rate, latencies, failures, attacks = asyncio.run(health_under_flood(base, emails, args.seconds))
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(30)
    cached, expired, uncached = auth_check_cost()

    print(f"GET /health (wrk -t1 -c4 {args.seconds}s)   req/s    p50 ms   p99 ms")
    print(f"  idle                          {idle[0]:>7.0f}  {idle[1]:>7.2f}  {idle[2]:>7.2f}")
    print(f"  during {args.logins} concurrent logins  {loaded[0]:>7.0f}  {loaded[1]:>7.2f}  {loaded[2]:>7.2f}")
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"logins: {login_rate:.1f}/s, p50 {quantiles[49]:.0f} ms, p99 {quantiles[98]:.0f} ms, "
          f"{failures} failed (PASSWORD_HASH_CONCURRENCY={args.hash_concurrency})")  # fmt: skip
    print(f"right logins accepted: {len(latencies) - failures}/{len(latencies)}"
          f" ({(len(latencies) - failures) / len(latencies):.1%})")  # fmt: skip
    for name, answers in zip(("one account, one address", "stuffing, one address"), attacks, strict=True):
        sent = sum(answers.values())
        print(f"attacker ({name}): {answers.get(401, 0)} guesses checked, {answers.get(429, 0)} refused of {sent}")
    print(f"auth check per request: {cached:.2f} us with the verified-token cache, {uncached:.1f} us via pyjwt")
    print(f"  an expired token of a session checked live within the minute: {expired:.1f} us (no query)")


if __name__ == "__main__":
    main()

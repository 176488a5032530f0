"""Attempt limits per account and per client address, counted in Postgres so every instance shares them.

An attempt is counted before the password is checked, in one atomic upsert, so parallel guesses cannot slip past
the limit between a read and a write (litestar's rate-limit middleware has exactly that race, issue #4700). A
successful login takes its own attempt back and clears the account's count. Beyond a limit the answer is 429
with Retry-After, before any hashing, so a flood costs one cheap query per request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import asyncpg

from service.config import Settings
from service.web.errors import TooManyRequests

# Fixed windows: a key's window starts with its first hit and its count restarts once the window has passed.
COUNT_ATTEMPT = """
INSERT INTO rate_limit_counters AS c (key, hits, window_ends_at)
SELECT key, 1, now() + make_interval(secs => $2) FROM unnest($1::text[]) AS key
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN c.window_ends_at > now() THEN c.hits + 1 ELSE 1 END,
    window_ends_at = CASE WHEN c.window_ends_at > now() THEN c.window_ends_at ELSE excluded.window_ends_at END
RETURNING key, hits, greatest(1, ceil(extract(epoch FROM c.window_ends_at - now())))::int AS retry_after
"""
TAKE_BACK = """
UPDATE rate_limit_counters SET hits = hits - 1 WHERE key = $1 AND hits > 0
"""
FORGET = "DELETE FROM rate_limit_counters WHERE key = $1"
DELETE_EXPIRED = "DELETE FROM rate_limit_counters WHERE window_ends_at < now()"


def address_bucket(ip: str) -> str:
    """IPv6 clients get a whole /64 each, so one host cannot rotate through its addresses."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def count_hits(connection: asyncpg.Connection, keys: Sequence[str], window_seconds: int) -> list[asyncpg.Record]:
    """Count one hit on each key: rows of (key, hits, retry_after).

    Sorted, so concurrent upserts of the same rows always lock them in the same order.
    """
    return await connection.fetch(COUNT_ATTEMPT, sorted(keys), window_seconds)


class Throttle:
    def __init__(self, settings: Settings) -> None:
        self.window = settings.login_failure_window_seconds
        self.account_limit = settings.login_max_failures_per_account
        self.address_limit = settings.login_max_failures_per_ip

    @staticmethod
    def keys(action: str, email: str, ip: str) -> tuple[str, str]:
        return f"{action}:account:{email}", f"{action}:ip:{address_bucket(ip)}"

    async def attempt(self, connection: asyncpg.Connection, action: str, email: str, ip: str) -> None:
        """Count one attempt; raise 429 when the account or the address is over its limit."""
        account, address = self.keys(action, email, ip)
        for key, hits, retry_after in await count_hits(connection, (account, address), self.window):
            if hits > (self.account_limit if key == account else self.address_limit):
                raise TooManyRequests(
                    "Too many attempts; try again later",
                    headers={"Retry-After": str(retry_after)},
                    details={"retryAfterSeconds": retry_after},
                )

    async def succeeded(self, connection: asyncpg.Connection, action: str, email: str, ip: str) -> None:
        account, address = self.keys(action, email, ip)
        await connection.execute(FORGET, account)
        await connection.execute(TAKE_BACK, address)

    async def forget_account(self, connection: asyncpg.Connection, action: str, email: str) -> None:
        await connection.execute(FORGET, self.keys(action, email, "")[0])

    @staticmethod
    async def delete_expired(connection: asyncpg.Connection) -> None:
        await connection.execute(DELETE_EXPIRED)

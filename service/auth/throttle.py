"""Failed-login limits that slow an attacker without locking the owner out (OWASP ASVS V2.2.1).

Only wrong passwords count, and only once the password has been checked, so a right password is never refused
for failures other people made and a flood of right passwords is never limited. Two limits, both in PostgreSQL
(rate_limit_counters) so every process shares them:

- per (account, address) pair: `login_free_failures` free failures, then each further attempt waits 2 s, 4 s,
  8 s ... up to `login_max_delay_seconds`, the count remembered `login_failure_memory_seconds` after the last
  failure. There is no per-account lock: whoever knows the e-mail slows down only their own address.
- per address, across accounts: `login_max_failures_per_ip` failures within `login_failure_window_seconds`,
  then 429 until the window ends, so credential stuffing stays expensive.

An address the account logged in from within `login_known_address_days` is the owner's: it skips the pair
delays, and while its own pair is in good standing (under the free failures) it is let through the address
limit too, so a shared or flooded address does not lock out its regular users.

A refusal comes before any hashing, so a flood costs one cheap query per request. A burst of guesses can all pass
the first reading before any of them has failed, so the limits are read again once a request holds its hashing
slot, and a failure is recorded before the slot is given up: only checks hashing at the same moment (at most
PASSWORD_HASH_CONCURRENCY per process) can pass a limit together.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from service.config import Settings
from service.errors import RateLimited

# The first delay once the free failures are spent; each further failure doubles it, up to the cap.
FIRST_DELAY_SECONDS = 2

READ = """
SELECT key, hits, window_ends_at FROM rate_limit_counters WHERE key = ANY($1::text[]) AND window_ends_at > $2
"""
# Fixed windows: a key's window starts with its first hit and its count restarts once the window has passed.
COUNT_HIT = """
INSERT INTO rate_limit_counters AS c (key, hits, window_ends_at)
SELECT key, 1, $3::timestamptz + make_interval(secs => $2) FROM unnest($1::text[]) AS key
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN c.window_ends_at > $3 THEN c.hits + 1 ELSE 1 END,
    window_ends_at = CASE WHEN c.window_ends_at > $3 THEN c.window_ends_at ELSE excluded.window_ends_at END
RETURNING key, hits, greatest(1, ceil(extract(epoch FROM c.window_ends_at - $3::timestamptz)))::int AS retry_after
"""
# A pair's window slides: it ends `memory` after the last failure, which is how the last failure is known.
COUNT_PAIR_FAILURE = """
INSERT INTO rate_limit_counters AS c (key, hits, window_ends_at)
VALUES ($1, 1, $2::timestamptz + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN c.window_ends_at > $2 THEN c.hits + 1 ELSE 1 END, window_ends_at = excluded.window_ends_at
"""
# A success: the pair's failures are forgiven and the address is the owner's for a while.
REMEMBER_SUCCESS = """
WITH forgiven AS (DELETE FROM rate_limit_counters WHERE key = $1)
INSERT INTO rate_limit_counters AS c (key, hits, window_ends_at) VALUES ($2, 1, $3)
ON CONFLICT (key) DO UPDATE SET window_ends_at = greatest(c.window_ends_at, excluded.window_ends_at)
"""
FORGET_PREFIX = "DELETE FROM rate_limit_counters WHERE starts_with(key, $1)"
DELETE_EXPIRED = "DELETE FROM rate_limit_counters WHERE window_ends_at < now()"


class TooManyAttempts(RateLimited):
    """Refused before the password (or the mail) is even looked at; Retry-After says when to come back."""


def address_bucket(ip: str) -> str:
    """IPv6 clients get a whole /64 each, so one host cannot rotate through its addresses."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def count_hits(
    connection: asyncpg.Connection, keys: Sequence[str], window_seconds: int, now: datetime | None = None
) -> list[asyncpg.Record]:
    """Count one hit on each key in fixed windows: rows of (key, hits, retry_after).

    Sorted, so concurrent upserts of the same rows always lock them in the same order.
    """
    return await connection.fetch(COUNT_HIT, sorted(keys), window_seconds, now or utc_now())


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


@dataclass(frozen=True, slots=True)
class LoginKeys:
    pair: str
    address: str
    known: str

    @classmethod
    def of(cls, email: str, ip: str) -> LoginKeys:
        bucket = address_bucket(ip)
        # A space cannot be in a registered e-mail, so "login:pair:<email> " prefixes exactly that account's pairs.
        return cls(f"login:pair:{email} {bucket}", f"login:ip:{bucket}", f"login:known:{email} {bucket}")


def reset_key(ip: str) -> str:
    return f"reset:ip:{address_bucket(ip)}"


class Throttle:
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        # Replaceable, so tests move time instead of sleeping.
        self.clock = clock

    # --- logins -----------------------------------------------------------------------------------------------

    def pair_delay(self, failures: int) -> int:
        """Seconds a pair waits after `failures` failures: none while free, then doubling up to the cap."""
        spent = failures - self.settings.login_free_failures
        if spent < 0:
            return 0
        return min(self.settings.login_max_delay_seconds, FIRST_DELAY_SECONDS << min(spent, 32))

    async def check_login(self, connection: asyncpg.Connection, email: str, ip: str) -> None:
        """Raise TooManyAttempts if this address may not try this account's password now."""
        settings = self.settings
        keys = LoginKeys.of(email, ip)
        now = self.clock()
        rows = {row["key"]: row for row in await connection.fetch(READ, [keys.pair, keys.address, keys.known], now)}
        pair, address = rows.get(keys.pair), rows.get(keys.address)
        failures = pair["hits"] if pair else 0
        known = keys.known in rows
        if pair is not None and not known and (delay := self.pair_delay(failures)):
            last_failure = pair["window_ends_at"] - timedelta(seconds=settings.login_failure_memory_seconds)
            if (allowed_at := last_failure + timedelta(seconds=delay)) > now:
                wait = seconds_until(allowed_at, now)
                raise TooManyAttempts(
                    wait, f"Too many failed logins for this account from your address; try again in {wait} s"
                )
        in_good_standing = known and failures < settings.login_free_failures
        if address is not None and address["hits"] >= settings.login_max_failures_per_ip and not in_good_standing:
            raise TooManyAttempts(
                seconds_until(address["window_ends_at"], now),
                "Too many failed logins from your address; try again later",
            )

    async def failed_login(self, connection: asyncpg.Connection, email: str, ip: str) -> None:
        keys = LoginKeys.of(email, ip)
        now = self.clock()
        await connection.execute(COUNT_PAIR_FAILURE, keys.pair, now, self.settings.login_failure_memory_seconds)
        await count_hits(connection, (keys.address,), self.settings.login_failure_window_seconds, now)

    async def succeeded(self, connection: asyncpg.Connection, email: str, ip: str) -> None:
        """The pair starts afresh and the address becomes the account's own; the address's count stands."""
        keys = LoginKeys.of(email, ip)
        known_until = self.clock() + timedelta(days=self.settings.login_known_address_days)
        await connection.execute(REMEMBER_SUCCESS, keys.pair, keys.known, known_until)

    @staticmethod
    async def forget_account(connection: asyncpg.Connection, email: str) -> None:
        """After a password reset: the owner proved the mailbox, so every address starts afresh."""
        await connection.execute(FORGET_PREFIX, f"login:pair:{email} ")

    # --- password-reset mails ---------------------------------------------------------------------------------

    async def reset_requested(self, connection: asyncpg.Connection, email: str, ip: str) -> None:
        """Each request may send a mail, so each counts, per e-mail (no mail bombs) and per address."""
        settings = self.settings
        limits = {
            f"forgot:email:{email}": settings.password_reset_max_per_email,
            f"forgot:ip:{address_bucket(ip)}": settings.password_reset_max_per_ip,
        }
        hits = await count_hits(connection, list(limits), settings.password_reset_window_seconds, self.clock())
        retry_after = max((wait for key, count, wait in hits if count > limits[key]), default=0)
        if retry_after:
            raise TooManyAttempts(retry_after, "Too many password-reset requests; try again later")

    async def check_reset(self, connection: asyncpg.Connection, ip: str) -> None:
        """Refuse an address that sent too many invalid reset links: it is probing for a live one."""
        now = self.clock()
        for row in await connection.fetch(READ, [reset_key(ip)], now):
            if row["hits"] >= self.settings.password_reset_max_per_ip:
                raise TooManyAttempts(
                    seconds_until(row["window_ends_at"], now),
                    "Too many invalid reset links from your address; try again later",
                )

    async def failed_reset(self, connection: asyncpg.Connection, ip: str) -> None:
        await count_hits(connection, (reset_key(ip),), self.settings.password_reset_window_seconds, self.clock())

    @staticmethod
    async def delete_expired(connection: asyncpg.Connection) -> None:
        await connection.execute(DELETE_EXPIRED)

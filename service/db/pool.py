"""The asyncpg connection pool the service runs on.

Requests use asyncpg directly with prepared statements; the ORM models only define the schema. Measured on
the contacts list: ORM objects ran at 0.21x the Fastify reference, raw asyncpg + msgspec at 1.2-1.4x.

An outage must answer fast: a connection attempt gives up after `connect_timeout` seconds, a request waits at
most `acquire_timeout` seconds for a connection, and both failures become `DatabaseUnavailable` (a 503 with
Retry-After). asyncpg alone would wait 60 s for a connection and forever for a free one. Broken connections are
replaced by the pool on their next use, so recovery needs nothing once the database is back.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg
import msgspec
from asyncpg.pool import PoolAcquireContext

from service.errors import DatabaseUnavailable

# What a lost or unreachable database raises: the server stopped, crashed or restarts. Failures to connect or to
# get a connection become DatabaseUnavailable in this module; these are the ones a query raises on its own.
CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,  # also ConnectionDoesNotExistError: "closed in the middle of operation"
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    # A query sent while the server tears the connection down ("cannot switch to state 11; another operation
    # is in progress"): seen only during outages, never outside one.
    asyncpg.InternalClientError,
)
# What a background loop (worker, LISTEN, the real-time pump, /ready) survives and retries after a pause.
DATABASE_TROUBLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    DatabaseUnavailable,
    *CONNECTION_LOST,
)

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode

# What a connection attempt raises while the server is down, starting or stopping.
CONNECT_FAILURES = (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            encoder=lambda value: _json_encode(value).decode(),
            decoder=_json_decode,
            schema="pg_catalog",
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL).

    That query is a second round trip on every request: dropping it took GET /api/contacts/:id from 2.9k-4.2k to
    4.3k-4.8k req/s in an interleaved A/B. asyncpg still rolls back a transaction left open. The rule that makes
    this safe: pooled connections hold no session state. Advisory locks are transaction-scoped
    (pg_advisory_xact_lock), and LISTEN or session SETs run on dedicated connections, never pooled ones.
    tests/test_architecture.py fails on add_listener, LISTEN, a session SET or a session advisory lock anywhere but
    the modules it names (the realtime listener, the ETL loader), each with its own connection.
    """


class _Acquire:
    """Pool.acquire()'s context, with a default timeout and outages as DatabaseUnavailable."""

    __slots__ = ("_inner",)

    def __init__(self, inner: PoolAcquireContext) -> None:
        self._inner = inner

    async def __aenter__(self) -> Any:
        try:
            return await self._inner.__aenter__()
        except (TimeoutError, *CONNECT_FAILURES):
            raise DatabaseUnavailable() from None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(kind, error, trace)


class ServicePool(asyncpg.Pool):
    __slots__ = ("acquire_timeout",)

    def acquire(self, *, timeout: float | None = None) -> Any:
        # Pool.fetch(), .execute() ... acquire through this too.
        return _Acquire(super().acquire(timeout=self.acquire_timeout if timeout is None else timeout))


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, connect_timeout: float = 5, acquire_timeout: float = 10
) -> ServicePool:
    pool = ServicePool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        timeout=connect_timeout,
    )
    pool.acquire_timeout = acquire_timeout
    await pool
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool (for the CLI, the ETL and tests)."""
    connection = await asyncpg.connect(dsn)
    await _init_connection(connection)
    return connection

"""The asyncpg connection pool the service runs on.

Requests use asyncpg directly with prepared statements; the ORM models only define the schema. Measured on
the contacts list: ORM objects ran at 0.21x the Fastify reference, raw asyncpg + msgspec at 1.2-1.4x.
"""

from __future__ import annotations

import asyncpg
import msgspec

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


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


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool (for the CLI, the ETL and tests)."""
    connection = await asyncpg.connect(dsn)
    await _init_connection(connection)
    return connection

"""Alembic environment: runs migrations over asyncpg, one migrator at a time (advisory lock)."""

from __future__ import annotations

import asyncio
from functools import partial

import asyncpg
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from service.config import Settings
from service.db.embedded import resolve_database_url
from service.db.models import Base

# Any constant works; it only has to be the same for every instance that migrates at start.
MIGRATION_LOCK_ID = 0x52494D4947

# pgqueuer owns its tables (created by revision 0003 from the pinned version's DDL, upgraded by its own plan):
# modelling them would copy its schema into ours and drift at every pgqueuer release, so autogenerate skips them.
EXTERNAL_TABLE_PREFIX = "pgqueuer"

config = context.config
target_metadata = Base.metadata


def _dsn() -> str:
    dsn = config.attributes.get("dsn")
    if dsn:
        return dsn
    settings = Settings.from_env()
    return resolve_database_url(settings.database_url, settings.data_dir)


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(EXTERNAL_TABLE_PREFIX))


def _run(connection: Connection) -> None:
    # Several machines may start together; the lock makes the others wait, then find nothing to do.
    connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            transaction_per_migration=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})")


async def _run_async(dsn: str) -> None:
    # async_creator hands the DSN to asyncpg untouched (sslmode, unix-socket hosts) instead of SQLAlchemy's parser.
    engine = create_async_engine(
        "postgresql+asyncpg://", async_creator=partial(asyncpg.connect, dsn), poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url="postgresql://", target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async(_dsn()))

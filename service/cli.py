"""The `reachimpact` command: serve, worker, jobs, migrate, and the Firebase import (`etl`).

The only module of `service` that imports `etl`; the commands it registers load their settings from
service/cli_settings.py, never from here.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from etl.cli import etl
from service.cli_settings import database_url, load_settings
from service.config import ConfigError
from service.web.listening import check_port_free, docs_url

APP_FACTORY = "service.app:served_app"
# How long in-flight requests get after SIGTERM; fly.toml's kill_timeout must be longer (a test checks).
GRACEFUL_SHUTDOWN_SECONDS = 30


class _LazyGroup(click.Group):
    """Command groups imported only when named (or listed by --help): every ``reachimpact etl`` stage would
    otherwise first load the job worker with its OpenAI client, about 1.5 s of start-up per process."""

    lazy: dict[str, str] = {"jobs": "service.jobs.cli", "users": "service.auth.cli", "worker": "service.jobs.cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return getattr(importlib.import_module(self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ReachImpact backend: the API service, its migrations, and the Firebase import."""


@main.command()
@click.option("--host", help="Interface to bind (env HOST; default 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (env PORT; default 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations before serving.")
def serve(host: str | None, port: int | None, workers: int, no_migrate: bool) -> None:
    """Run the API on granian (measured faster than uvicorn here; see bench/README.md)."""
    from granian import Granian
    from granian.constants import Interfaces

    from service.db import migrations

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    try:
        check_port_free(host, port)
    except ConfigError as exc:
        click.echo(f"cannot serve: {exc}", err=True)
        sys.exit(2)
    dsn = database_url(settings)
    if settings.migrate_on_start and not no_migrate:
        migrations.upgrade(dsn)
    # Workers are separate processes: hand them the resolved database instead of starting a server each.
    os.environ["DATABASE_URL"] = dsn
    click.echo(f"serving on {host}:{port}; interactive API docs at {docs_url(host, port)}", err=True)
    Granian(
        APP_FACTORY,
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_level=settings.log_level.lower(),  # type: ignore[arg-type]
        workers_kill_timeout=GRACEFUL_SHUTDOWN_SECONDS,
    ).serve()


@main.command()
@click.argument("action", type=click.Choice(["upgrade", "downgrade", "current", "check"]), default="upgrade")
@click.argument("revision", required=False)
def migrate(action: str, revision: str | None) -> None:
    """Apply (upgrade [REV]), revert (downgrade REV), show (current) or verify (check) the schema migrations."""
    from service.db import migrations

    settings = load_settings()
    dsn = database_url(settings)
    if action == "upgrade":
        migrations.upgrade(dsn, revision or "head")
    elif action == "downgrade":
        if not revision:
            raise click.UsageError("downgrade needs a target revision, e.g. -1 or base")
        migrations.downgrade(dsn, revision)
    elif action == "current":
        migrations.current(dsn)
    else:
        migrations.check(dsn)
        click.echo("models and migrations agree")


main.add_command(etl)

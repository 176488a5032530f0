"""`reachimpact worker` and `reachimpact jobs list|retry`."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click

from service.cli_settings import database_url, load_settings
from service.db.pool import connect
from service.jobs import queue
from service.jobs.registry import load_jobs
from service.jobs.worker import Worker, WorkerOptions

T = TypeVar("T")


@click.command()
@click.option("--concurrency", type=click.IntRange(min=2), default=20, show_default=True, help="Jobs run at once.")
@click.option("--grace", type=float, default=30.0, show_default=True, help="Seconds SIGTERM waits for running jobs.")
@click.option(
    "--heartbeat-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which a job of a dead worker runs again.",
)
@click.option("--import", "modules", multiple=True, help="Also load the jobs of this module (repeatable).")
def worker(concurrency: int, grace: float, heartbeat_timeout: float, modules: tuple[str, ...]) -> None:
    """Run background jobs and periodic tasks until SIGTERM (`serve` never runs them)."""
    settings = load_settings()
    load_jobs()
    for module in modules:
        importlib.import_module(module)
    options = WorkerOptions(concurrency=concurrency, grace_seconds=grace, heartbeat_timeout_seconds=heartbeat_timeout)
    asyncio.run(Worker(settings, database_url(settings), options).run())


@click.group("jobs")
def jobs() -> None:
    """Inspect and retry background jobs."""


@jobs.command("list")
@click.option("--failed", is_flag=True, help="Only jobs that used up their attempts.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def list_command(failed: bool, limit: int) -> None:
    """Jobs in the queue, newest first: queued, running, or failed with their last error."""
    rows = asyncio.run(_on_database(lambda c: queue.list_jobs(c, failed_only=failed, limit=limit)))
    if not rows:
        click.echo("no failed jobs" if failed else "no jobs")
    for row in rows:
        error = f"  {row.error}" if row.error else ""
        click.echo(
            f"{row.id}\t{row.status}\t{row.name}\tattempts={row.attempts}\t{row.created:%Y-%m-%d %H:%M:%S}{error}"
        )


@jobs.command("retry")
@click.argument("job_id", type=int)
def retry_command(job_id: int) -> None:
    """Queue failed job JOB_ID again, with its attempts reset."""
    if not asyncio.run(_on_database(lambda c: queue.retry(c, job_id))):
        raise click.ClickException(f"no failed job has id {job_id}")
    click.echo(f"job {job_id} queued again")


async def _on_database(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:

    connection = await connect(database_url(load_settings()))
    try:
        return await action(connection)
    finally:
        await connection.close()

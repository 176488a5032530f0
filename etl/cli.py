"""``reachimpact etl ...``: extract, load, verify, run (all three), export (the way back).

Every command writes to the service's database (DATABASE_URL, or the embedded server under the data
dir) and migrates it first, as ``serve`` does. Exit status: 0 when everything is accounted for, 1 when
verify finds a document unaccounted for or a row that differs, 2 for bad arguments or settings.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from etl.snapshot import Snapshot, SnapshotError

T = TypeVar("T")
console = Console(stderr=True)
# Piped into a log file (`| tee import.log`), rich would wrap at 80 columns and truncate the report's cells.
REPORT_WIDTH_WHEN_PIPED = 160
SNAPSHOT_DIR = click.Path(file_okay=False, path_type=Path)
INPUT_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Rate(ProgressColumn):
    """Documents per second (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(name, advance, total)`` callback drawing one bar per stage, with count and rate."""
    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), _Rate(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[str, Any] = {}

        def update(name: str, advance: int, total: int | None = None) -> None:
            if name not in tasks:
                tasks[name] = bars.add_task(name, total=total)
            elif total is not None:
                bars.update(tasks[name], total=total)
            if advance:
                bars.advance(tasks[name], advance)

        yield update


def _database() -> tuple[str, Any]:
    from service.cli_settings import database_url, load_settings

    settings = load_settings()
    dsn = database_url(settings)
    if settings.migrate_on_start:
        from service.db import migrations  # alembic: 0.45 s of start-up, only when it is used

        migrations.upgrade(dsn)
    return dsn, settings


def _with_db(work: Callable[[Any, str], Awaitable[T]]) -> T:
    """Run ``work(connection, dsn)`` on one connection to the configured database."""
    from service.db.pool import connect

    dsn, _ = _database()

    async def run() -> T:
        connection = await connect(dsn)
        try:
            return await work(connection, dsn)
        finally:
            await connection.close()

    return asyncio.run(run())


def _snapshot(path: Path) -> Snapshot:
    try:
        return Snapshot(path)
    except SnapshotError as exc:
        raise click.ClickException(str(exc)) from None


def _region() -> str:
    from service.cli_settings import load_settings

    return load_settings().default_phone_region


def _hash_config(value: str | None) -> Any:
    """Check the project's hash parameters; the parameters themselves are never printed."""
    if value is None:
        return None
    from service.auth.firebase_hash import load_hash_config
    from service.config import ConfigError

    try:
        return load_hash_config(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).replace("FIREBASE_HASH_CONFIG", "--hash-config")) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def etl() -> None:
    """The one-shot Firebase import (extract, load, verify, run) and the way back (export)."""


def _source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--auth-export", type=INPUT_FILE, help="A `firebase auth:export` file (JSON, or CSV)."),
        click.option("--auth-admin", is_flag=True, help="Read Auth users live through the Admin SDK."),
        click.option(
            "--firestore-export",
            type=INPUT_FILE,
            help="A node-firestore-import-export JSON or firestore-backup NDJSON file.",
        ),
        click.option("--firestore-live", is_flag=True, help="Read Firestore live (every collection, any depth)."),
        click.option("--project-id", help="The Firebase project (live sources; else from the credentials)."),
        click.option(
            "--collections",
            multiple=True,
            help="With --firestore-live: read these collection paths instead of discovering them "
            "(comma-separated; '*' for every document id, e.g. users,users/*/orders).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _extract(out_dir: Path, **sources: Any) -> None:
    from etl.extract import ExtractError, extract

    counted: dict[str, int] = {}

    def advance(progress: Callable[[str, int, int | None], None], phase: str, count: int) -> None:
        progress(phase, count - counted.get(phase, 0), None)
        counted[phase] = count

    try:
        with progress_bars() as progress:
            summary = extract(out_dir, progress=lambda phase, count: advance(progress, phase, count), **sources)
    except (ExtractError, SnapshotError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"snapshot {out_dir}: {summary.auth_users} Auth users, {summary.documents} documents")
    if summary.users_without_hash:
        console.print(
            f"{summary.users_without_hash} Auth user(s) have no password hash: they will be asked "
            "to reset their password"
            + (
                " (hashes REDACTED: the credentials lack the Firebase Authentication Admin role)"
                if summary.hash_redacted
                else ""
            )
        )


@etl.command("extract")
@click.argument("out_dir", type=SNAPSHOT_DIR)
@_source_options
def extract_command(out_dir: Path, **sources: Any) -> None:
    """Read Firebase into the snapshot directory OUT_DIR (run it again to continue after a crash)."""
    _extract(out_dir, **sources)


@etl.command("load")
@click.argument("snapshot", type=SNAPSHOT_DIR)
@click.option("--dry-run", is_flag=True, help="Do everything in a transaction that is rolled back; print the report.")
@click.option("--restart", is_flag=True, help="Ignore this snapshot's checkpoints: apply every document again.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5000, show_default=True)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report JSON.")
def load_command(snapshot: Path, dry_run: bool, restart: bool, batch_size: int, report_path: Path | None) -> None:
    """Transform the snapshot SNAPSHOT and write it to the database (resumes after a crash)."""
    report = _with_db(
        lambda db, dsn: _load(db, dsn, _snapshot(snapshot), dry_run=dry_run, restart=restart, batch_size=batch_size)
    )
    _print(report, report_path)


@etl.command("verify")
@click.argument("snapshot", type=SNAPSHOT_DIR)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report JSON.")
def verify_command(snapshot: Path, report_path: Path | None) -> None:
    """Re-read SNAPSHOT and the database; exit 1 unless every source document is accounted for."""
    report = _with_db(lambda db, _: _verify(db, _snapshot(snapshot)))
    _print(report, report_path)
    if not report.ok:
        raise SystemExit(1)


@etl.command("run")
@_source_options
@click.option("--hash-config", help="The project's password hash parameters: a file, or the JSON / console text.")
@click.option("--snapshot-dir", type=SNAPSHOT_DIR, help="Where the snapshot goes (default: under the data dir).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report JSON.")
def run_command(hash_config: str | None, snapshot_dir: Path | None, report_path: Path | None, **sources: Any) -> None:
    """Extract, load and verify in one go; run it again to continue after a crash.

    \b
    From export files:
      reachimpact etl run --auth-export users.json --hash-config hash.json --firestore-export data.json
    """
    _hash_config(hash_config)
    directory = snapshot_dir or _default_snapshot_dir(sources)
    _extract(directory, **sources)
    snapshot = _snapshot(directory)

    async def work(db: Any, dsn: str) -> Any:
        await _load(db, dsn, snapshot)
        return await _verify(db, snapshot)

    report = _with_db(work)
    _print(report, report_path)
    if hash_config:
        console.print(
            f"Start the service with FIREBASE_HASH_CONFIG={hash_config} so these users log in with "
            "their Firebase passwords."
        )
    if not report.ok:
        raise SystemExit(1)


@etl.command("export")
@click.argument("out_dir", type=SNAPSHOT_DIR)
@click.option("--to-firestore", is_flag=True, help="Also write the documents and Auth users to live Firebase.")
@click.option("--project-id", help="The Firebase project to write to (with --to-firestore).")
@click.option("--hash-config", help="Hash parameters for the Auth users' passwords (with --to-firestore).")
def export_command(out_dir: Path, to_firestore: bool, project_id: str | None, hash_config: str | None) -> None:
    """Write the database back as Firestore documents and Auth users, to the snapshot directory OUT_DIR."""
    from etl.export import export_snapshot, push_snapshot

    if out_dir.exists() and any(out_dir.iterdir()):
        raise click.ClickException(f"{out_dir} is not empty: export writes a new snapshot")
    if to_firestore and not hash_config:
        raise click.UsageError("--to-firestore needs --hash-config, or the users could not log in to Firebase")
    config = _hash_config(hash_config)

    async def work(db: Any, _: str) -> Any:
        with progress_bars() as progress:
            return await export_snapshot(db, out_dir, progress=progress)

    manifest = _with_db(work)
    console.print(
        f"exported {sum(manifest.collections.values())} documents and {manifest.auth_users} Auth users to {out_dir}"
    )
    if to_firestore:
        from etl.push import PushRefused

        try:
            written, failures = push_snapshot(_snapshot(out_dir), config, project_id)
        except PushRefused as exc:
            raise click.ClickException(str(exc)) from None
        console.print(f"wrote {written} documents to Firestore")
        for uid, reason in failures:
            console.print(f"[red]Auth user {uid} not imported: {reason}[/]")
        if failures:
            raise SystemExit(1)


async def _load(db: Any, dsn: str, snapshot: Snapshot, **options: Any) -> Any:
    from etl.load.loader import LoadError, load
    from etl.verify import Report

    try:
        with progress_bars() as progress:
            result = await load(db, snapshot, default_region=_region(), progress=progress, dsn=dsn, **options)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from None
    return Report.from_load(result)


async def _verify(db: Any, snapshot: Snapshot) -> Any:
    from etl.verify import VerifyError, verify

    console.print("verifying: re-reading the snapshot and the database")
    try:
        with progress_bars() as progress:
            return await verify(db, snapshot, default_region=_region(), progress=progress)
    except VerifyError as exc:
        raise click.ClickException(str(exc)) from None


def _print(report: Any, path: Path | None) -> None:
    from etl.verify import render, write_json

    report_console = Console()
    if not report_console.is_terminal:
        report_console.width = REPORT_WIDTH_WHEN_PIPED
    render(report, report_console)
    if path:
        write_json(report, path)
        console.print(f"report written to {path}")


def _default_snapshot_dir(sources: dict[str, Any]) -> Path:
    """One directory per set of inputs (files by content identity), so a rerun continues the same one."""
    from service.cli_settings import load_settings

    key = hashlib.sha256()
    for name, value in sorted(sources.items()):
        if value == ():  # an unused --collections keeps the key of earlier versions
            continue
        key.update(f"{name}={value}".encode())
        if isinstance(value, Path):
            stat = value.stat()
            key.update(f":{stat.st_size}:{stat.st_mtime_ns}".encode())
    return load_settings().data_dir / "etl" / f"snapshot-{key.hexdigest()[:12]}"

"""The import report: per stage, where every source document went. Printed as a table, written as JSON."""

from __future__ import annotations

from pathlib import Path

import msgspec
from rich.console import Console
from rich.table import Table

from etl.load.counts import StageCounts
from etl.load.loader import LoadResult
from etl.load.stages import STAGES


class StageReport(msgspec.Struct, kw_only=True, rename="camel"):
    stage: str
    table: str
    load: StageCounts  # what the load did (from its checkpoints)
    # What verify found by re-reading both sides (None before a verify):
    source: int | None = None
    matching: int | None = None  # rows equal to what their document must become
    rejected: int | None = None  # documents kept as dead letters
    mismatched: int | None = None  # rows that differ from their document
    unaccounted: int | None = None  # documents neither loaded nor dead-lettered
    # rows that differ because the service changed them after the first import (not an error, kept as is)
    changed_since: int | None = None
    checksum_source: str | None = None
    checksum_target: str | None = None
    examples: list[str] = []  # paths of mismatched or unaccounted documents (a few)

    @property
    def ok(self) -> bool:
        return not self.unaccounted and not self.mismatched


class Report(msgspec.Struct, kw_only=True, rename="camel"):
    snapshot_id: str
    verified: bool
    stages: list[StageReport]
    dry_run: bool = False

    @classmethod
    def from_load(cls, result: LoadResult) -> Report:
        """What a load did, before any verify."""
        stages = [StageReport(stage=n, table=m.table, load=result.stages[n]) for n, m in STAGES]
        return cls(snapshot_id=result.snapshot_id, verified=False, dry_run=result.dry_run, stages=stages)

    @property
    def ok(self) -> bool:
        """Every source document is accounted for: loaded as it should be, or a dead letter."""
        return self.verified and all(s.ok for s in self.stages)

    @property
    def unknown_collections(self) -> dict[str, int]:
        return {k: v for s in self.stages for k, v in s.load.collections.items()}


def write_json(report: Report, path: Path) -> None:
    data = msgspec.to_builtins(report) | {"ok": report.ok, "unknownCollections": report.unknown_collections}
    path.write_bytes(msgspec.json.format(msgspec.json.encode(data)) + b"\n")


def render(report: Report, console: Console) -> None:
    title = f"Import of {report.snapshot_id}" + (" (dry run: nothing written)" if report.dry_run else "")
    table = Table(title=title, title_justify="left")
    columns = ["stage", "table", "source", "inserted", "updated", "unchanged", "rejected", "orphans"]
    if report.verified:
        columns += ["unaccounted", "mismatched", "changed since", "checksum"]
    for name in columns:
        table.add_column(name, justify="left" if name in ("stage", "table", "checksum") else "right")
    for stage in report.stages:
        load = stage.load
        cells = [
            stage.stage,
            stage.table,
            str(stage.source if stage.source is not None else load.source),
            str(load.inserted),
            str(load.updated),
            str(load.unchanged),
            str(stage.rejected if stage.rejected is not None else load.rejected),
            str(load.orphans),
        ]
        if report.verified:
            same = stage.checksum_source == stage.checksum_target
            cells += [
                _flag(stage.unaccounted),
                _flag(stage.mismatched),
                str(stage.changed_since or 0),
                f"[green]{stage.checksum_source}[/]"
                if same
                else f"[red]{stage.checksum_source} ≠ {stage.checksum_target}[/]",
            ]
        table.add_row(*cells)
    console.print(table)
    _notes(report, console)


def _flag(value: int | None) -> str:
    return "[green]0[/]" if not value else f"[red]{value}[/]"


def _notes(report: Report, console: Console) -> None:
    for stage in report.stages:
        load = stage.load
        if load.auth_read:
            console.print(
                f"{stage.stage}: {load.auth_read} Auth users read: {load.auth_joined} joined to their profile "
                f"(counted under users), {load.auth_read - load.auth_joined} without a profile (the rows of this stage)"
            )
        if load.truncated_timestamps:
            console.print(f"{stage.stage}: {load.truncated_timestamps} time(s) lost digits below the microsecond")
        for column, count in sorted(load.raw_kept.items()):
            console.print(f"{stage.stage}: {count} value(s) did not fit {stage.table}.{column}; kept in extra")
        if stage.changed_since:
            console.print(
                f"{stage.stage}: {stage.changed_since} row(s) changed by the service since the import "
                "(newer than the first load; kept as they are, not an error)"
            )
        for path in stage.examples:
            console.print(f"[red]{stage.stage}: not accounted for or different: {path}[/]")
    if report.unknown_collections:
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(report.unknown_collections.items()))
        console.print(f"Unknown collections, kept in firestore_documents: {listed}")
    if report.verified:
        console.print(
            "[green]Every source document is accounted for.[/]"
            if report.ok
            else "[red]Some source documents are not accounted for (see above).[/]"
        )

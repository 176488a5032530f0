"""Verify: re-read the snapshot and the database, and account for every source document.

Each stage's documents are transformed again and staged exactly as the load stages them; SQL then
computes, per document, the digest of the row it must become (links resolved as the load resolves them)
and of the row in the table. Equal digests: loaded. A dead letter: rejected. Neither: unaccounted.
The per-stage checksum is the sum of the row digests, on each side.
"""

from __future__ import annotations

import asyncpg

from etl.load import STAGES, StageCounts, binary_jsonb, checkpoint, snapshot_id
from etl.load.loader import Progress
from etl.load.sql import Mapping, compare
from etl.load.stages import Batches, Loadable, context, stage_rows
from etl.snapshot import Snapshot
from etl.transform import Rejected, Row
from etl.verify.report import Report, StageReport

MAX_EXAMPLES = 10
BATCH = 5000
_MASK = 2**64 - 1


async def verify(
    db: asyncpg.Connection, snapshot: Snapshot, *, default_region: str = "US", progress: Progress | None = None
) -> Report:
    await binary_jsonb(db)
    sid = snapshot_id(snapshot)
    batches = Batches(db, snapshot, BATCH, context(snapshot, default_region))
    notify = progress or (lambda *_: None)
    stages = []
    for name, mapping in STAGES:
        counts = (await checkpoint(db, sid, name))[1]
        notify(name, 0, batches.total(name, mapping))
        stages.append(await _verify_stage(db, batches, name, mapping, counts, notify))
    return Report(snapshot_id=sid, verified=True, stages=stages)


async def _verify_stage(
    db: asyncpg.Connection, batches: Batches, name: str, mapping: Mapping, counts: StageCounts, progress: Progress
) -> StageReport:
    report = StageReport(
        stage=name,
        table=mapping.table,
        load=counts,
        source=0,
        matching=0,
        rejected=0,
        mismatched=0,
        unaccounted=0,
        changed_since=0,
    )
    sql = await batches.statements(mapping)
    statement = compare(mapping, sql.stage, sql.members_stage)
    want_sum = got_sum = 0
    async for _, prepared in batches.batches(name, mapping, 0):
        progress(name, len(prepared), None)
        report.source = (report.source or 0) + len(prepared)
        rows: list[Loadable] = [(d, o) for d, o in prepared if isinstance(o, Row)]
        await _check_rejects(db, name, [d.path for d, o in prepared if isinstance(o, Rejected)], report)
        if not rows:
            continue
        await stage_rows(db, sql, mapping, rows)
        for record in await db.fetch(statement, name):
            if record["got"] is None:
                _account_missing(report, record["firebase_id"], record["rejected"])
                if not record["rejected"]:
                    want_sum = (want_sum + int(record["want"][:16], 16)) & _MASK
                continue
            want_sum = (want_sum + int(record["want"][:16], 16)) & _MASK
            got_sum = (got_sum + int(record["got"][:16], 16)) & _MASK
            if record["want"] == record["got"]:
                report.matching = (report.matching or 0) + 1
            elif record["changed"]:
                report.changed_since = (report.changed_since or 0) + 1
            else:
                report.mismatched = (report.mismatched or 0) + 1
                _example(report, record["firebase_id"])
    report.checksum_source, report.checksum_target = f"{want_sum:016x}", f"{got_sum:016x}"
    return report


def _account_missing(report: StageReport, path: str, rejected: bool) -> None:
    if rejected:
        report.rejected = (report.rejected or 0) + 1
    else:
        report.unaccounted = (report.unaccounted or 0) + 1
        _example(report, path)


async def _check_rejects(db: asyncpg.Connection, stage: str, paths: list[str], report: StageReport) -> None:
    """Documents the transform rejects must be dead letters."""
    if not paths:
        return
    found = {
        r["document_path"]
        for r in await db.fetch(
            "SELECT document_path FROM etl_dead_letters WHERE collection = $1 AND document_path = ANY($2::text[])",
            stage,
            paths,
        )
    }
    for path in paths:
        _account_missing(report, path, path in found)


def _example(report: StageReport, path: str) -> None:
    if len(report.examples) < MAX_EXAMPLES:
        report.examples.append(path)

"""Load a snapshot into Postgres: stream, transform, COPY into staging, upsert; resumable and exactly-once.

Each stage is loaded in batches. A batch is COPY'd into a staging table (this session's temporary one, or a
slot that the staging worker fills, ``staging``: scratch either way), then written in one transaction: a
set-based upsert keyed on ``firebase_id`` (unchanged rows are not written; a first import inserts, ``fresh``),
membership rows, dead letters, and the stage's checkpoint. A SIGKILL at any moment loses at most the batch in
flight, whose transaction never committed; the rerun starts from the checkpoint and, because ids and every
column are functions of the snapshot, reaches the rows an uninterrupted run would have written.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from etl.load import fresh, indexes, rollups
from etl.load.counts import StageCounts
from etl.load.finishing import Finisher
from etl.load.session import decode_json, encode_json, fewer_gc_passes, prepare_session
from etl.load.sql import RECORD_REJECTED, Mapping, Statements
from etl.load.stages import (
    AUTH_STAGE,
    ROW_ERRORS,
    STAGES,
    Again,
    Batch,
    Batches,
    Digests,
    Prepared,
    context,
    returning,
    snapshot_id,
    stage_rows,
)
from etl.load.staging import Stager
from etl.snapshot import Snapshot
from etl.transform import Rejected, Row, imported_id
from service.db.models.base import uuid7

DEFAULT_BATCH = 5000

LOAD_LOCK = 0x5E71_0AD  # session advisory lock of the running load
# table -> the last stage that writes it (users has two): its indexes and analytics are finished after that one
FINAL_STAGE = {mapping.table: name for name, mapping in STAGES}
Progress = Callable[[str, int, int | None], None]  # (stage, documents just done, stage total when known)


class LoadError(Exception):
    """A load that cannot start (the message says why)."""


@dataclass
class LoadResult:
    snapshot_id: str
    run_id: Any
    dry_run: bool
    stages: dict[str, StageCounts] = field(default_factory=dict)


async def load(
    connection: asyncpg.Connection,
    snapshot: Snapshot,
    *,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    restart: bool = False,
    default_region: str = "US",
    progress: Progress | None = None,
    dsn: str | None = None,
) -> LoadResult:
    """Load every stage not yet finished for this snapshot (``restart``: all of them again).

    ``dry_run`` runs the same statements in one transaction and rolls it back: exact counts, no writes.
    ``dsn`` (the connection's database): stage the batches in a worker process with its own connection
    (``staging``), except in a dry run and for the stages that need the Auth users; else all in this one.
    """
    await prepare_session(connection)
    with fewer_gc_passes():
        return await _load(connection, snapshot, batch_size, dry_run, restart, default_region, progress, dsn)


async def _load(
    connection: asyncpg.Connection,
    snapshot: Snapshot,
    batch_size: int,
    dry_run: bool,
    restart: bool,
    default_region: str,
    progress: Progress | None,
    dsn: str | None,
) -> LoadResult:
    ctx = context(snapshot, default_region)
    batches = Batches(connection, snapshot, batch_size, ctx)
    loader = _Loader(connection, batches, snapshot_id(snapshot), progress or (lambda *_: None))
    # A dry run keeps them: dropping would lock the tables for the whole (rolled back) transaction.
    if not dry_run:
        loader.finisher = Finisher(connection, dsn)
    if dsn and not dry_run:
        loader.stager = Stager(connection, dsn, snapshot, batch_size, ctx)
    loader.lock_links = await _skip_key_checks(connection)
    try:
        return await _stages(connection, loader, dry_run, restart)
    finally:
        if loader.stager:
            await loader.stager.close()
        if loader.lock_links:
            await connection.execute("RESET session_replication_role")


async def _skip_key_checks(connection: asyncpg.Connection) -> bool:
    """Skip the per-row foreign-key triggers (they made inserts 3x slower) when the role may.

    They are redundant here: every key the upsert writes comes from a join with the referenced table in
    the same statement, and each batch holds a SHARE lock on those tables until it commits, so no key can
    vanish in between. Verify checks every link afterwards. Without the privilege, the checks stay on.
    """
    try:
        await connection.execute("SET session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        return False
    return True


async def _stages(connection: asyncpg.Connection, loader: _Loader, dry_run: bool, restart: bool) -> LoadResult:
    result = LoadResult(loader.snapshot_id, None, dry_run)
    async with _outer(connection, dry_run):
        result.run_id = await loader.start_run(restart)
        try:
            try:
                for name, mapping in STAGES:
                    result.stages[name] = await loader.stage(name, mapping)
            finally:
                if loader.finisher:  # the stages done so far are finished even if a later one failed
                    await loader.finisher.close(all_done=len(result.stages) == len(STAGES))
        except Exception:
            await loader.finish_run(result, "failed")
            raise
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", LOAD_LOCK)
        await loader.finish_run(result, "succeeded")
    return result


@asynccontextmanager
async def _outer(connection: asyncpg.Connection, dry_run: bool) -> AsyncIterator[None]:
    if not dry_run:
        yield
        return
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield
    finally:
        await transaction.rollback()


class _Loader:
    def __init__(self, db: asyncpg.Connection, batches: Batches, snapshot: str, progress: Progress) -> None:
        self.db = db
        self.batches = batches
        self.snapshot_id = snapshot
        self.progress = progress
        self.run_id: Any = None
        self.lock_links = False  # hold SHARE locks on linked tables per batch (key checks are skipped)
        self.stager: Stager | None = None  # stages the batches in a worker process (``staging``)
        self.sql: Statements  # the current stage's statements on this session's temporary staging tables
        self.fresh = False  # the current stage inserts without upserting (``fresh``)
        # An empty table's secondary indexes are built, and its analytics counted, after its stage
        # (``indexes``, ``rollups``, ``finishing``); not in a dry run.
        self.finisher: Finisher | None = None

    async def start_run(self, restart: bool) -> Any:
        # The lock is held by the live load (on its own connection, never a pooled one), so a run still
        # marked running without it was killed: say so instead of leaving it running forever.
        if not await self.db.fetchval("SELECT pg_try_advisory_lock($1)", LOAD_LOCK):
            raise LoadError("another etl load is running on this database; wait for it to finish")
        await self.db.execute(
            "UPDATE etl_runs SET status = 'interrupted', finished_at = now() "
            "WHERE command = 'load' AND status = 'running'"
        )
        if restart:
            await self.db.execute("DELETE FROM etl_checkpoints WHERE snapshot_id = $1", self.snapshot_id)
        self.run_id = uuid7()
        await self.db.execute(
            "INSERT INTO etl_runs (id, command, snapshot, started_at) VALUES ($1, 'load', $2, now())",
            self.run_id,
            self.snapshot_id,
        )
        return self.run_id

    async def finish_run(self, result: LoadResult, status: str) -> None:
        await self.db.execute(
            "UPDATE etl_runs SET status = $3, finished_at = now(), report = $2 WHERE id = $1",
            self.run_id,
            {name: msgspec.to_builtins(counts) for name, counts in result.stages.items()},
            status,
        )

    async def stage(self, name: str, mapping: Mapping) -> StageCounts:
        start, counts = await checkpoint(self.db, self.snapshot_id, name)
        if counts.done:
            return counts
        if start == 0 and self.finisher:
            await indexes.defer(self.db, mapping.table)
            await rollups.defer(self.db, mapping.table)
        self.sql = await self.batches.statements(mapping)
        self.fresh = await fresh.decide(self.db, name, mapping.table, start)
        self.progress(name, 0, self.batches.total(name, mapping))
        self.progress(name, counts.source, None)
        position = start
        if self.stager and name != AUTH_STAGE and not mapping.uses_auth:
            source = self.stager.batches(mapping, start)
        else:
            source = self.batches.staged(name, mapping, start, self.sql)
        async with rollups.deferred(self.db, mapping.table), aclosing(source) as batches:
            async for batch in batches:
                async with self.db.transaction():
                    if self.lock_links and linked_tables(mapping):
                        await self.db.execute(f"LOCK TABLE {', '.join(linked_tables(mapping))} IN SHARE MODE")
                    counts.add(await self._batch(name, mapping, batch))
                    await self._save(name, batch.position, counts)
                position = batch.position
                self.progress(name, batch.counts.source, None)
            counts.done = True
            if name == AUTH_STAGE:
                counts.auth_read = await self.db.fetchval("SELECT count(*) FROM etl_auth")
                counts.auth_joined = counts.auth_read - counts.source
            async with self.db.transaction():
                await fresh.forget(self.db, name)
                await self._save(name, position, counts)
        if self.finisher and FINAL_STAGE[mapping.table] == name:
            await self.finisher.stage_done(mapping)
        return counts

    async def _save(self, stage: str, position: int, counts: StageCounts) -> None:
        # clock_timestamp(): when the stage got there; now() is when the transaction began, which for a
        # stage's last one is before its index builds (the checkpoints are how a load's stages are timed).
        await self.db.execute(
            "INSERT INTO etl_checkpoints (snapshot_id, collection, position, counts, updated_at) "
            "VALUES ($1, $2, $3, $4, clock_timestamp()) ON CONFLICT (snapshot_id, collection) "
            "DO UPDATE SET position = EXCLUDED.position, counts = EXCLUDED.counts, updated_at = clock_timestamp()",
            self.snapshot_id,
            stage,
            position,
            counts,
        )

    async def _batch(self, stage: str, mapping: Mapping, batch: Batch) -> StageCounts:
        """Write a batch: with the stage's insert if it is fresh, else (or if a row exists after all) the
        upsert; a row the database refuses even then (or in staging, ``rows < 0``) is found row by row."""
        counts, sql = batch.counts, batch.sql
        writes = (sql.insert, sql.upsert) if self.fresh else (sql.upsert,)
        for write in writes if batch.rows >= 0 else ():
            with contextlib.suppress(*ROW_ERRORS):
                async with self.db.transaction():
                    written = self._write(
                        stage, mapping, sql, write, batch.rows, batch.rejects, batch.digests, batch.prepared
                    )
                    counts.add(await written)
                return counts
        counts.add(await self._write_one_by_one(stage, mapping, *await batch.prepared()))
        return counts

    async def _write_one_by_one(
        self, stage: str, mapping: Mapping, prepared: list[Prepared], digests: Digests
    ) -> StageCounts:
        """A batch the database refused: find the row(s) it refuses, keep the rest (staged here, one by one)."""
        total = StageCounts()
        rejects = [(doc, outcome.reason) for doc, outcome in prepared if isinstance(outcome, Rejected)]
        for doc, row in prepared:
            if not isinstance(row, Row):
                continue
            try:
                async with self.db.transaction():
                    await stage_rows(self.db, self.sql, mapping, [(doc, row)], digests, analyze=False)
                    again = returning([(doc, row)], digests)
                    total.add(await self._write(stage, mapping, self.sql, self.sql.upsert, 1, [], digests, again))
            except ROW_ERRORS as exc:
                rejects.append((doc, f"the database refused the row: {exc}"))
        await self._dead_letters(stage, rejects, digests)
        total.rejected += len(rejects)
        return total

    async def _write(
        self,
        stage: str,
        mapping: Mapping,
        sql: Statements,
        write: str,
        rows: int,
        rejects: list[tuple[Any, str]],
        digests: Digests,
        prepared: Again,
    ) -> StageCounts:
        """Write the ``rows`` staged in ``sql``'s tables with ``write`` (its upsert or insert), and the rejects."""
        written = StageCounts()
        if rows:
            for statement in sql.resolve_members:
                await self.db.execute(statement)
            duplicates = await self._duplicates(mapping, sql, digests, prepared)
            inserted, updated, orphans = await self.db.fetchrow(write, stage)
            for statement in sql.sync_members:
                await self.db.execute(statement)
            if sql.member_orphans:
                orphans += await self.db.fetchval(sql.member_orphans)
            await self.db.execute(sql.forget_dead_letters, stage)
            unchanged = rows - len(duplicates) - inserted - updated
            written = StageCounts(inserted=inserted, updated=updated, unchanged=unchanged, orphans=orphans)
            rejects = rejects + duplicates
        written.rejected = len(rejects)
        await self._dead_letters(stage, rejects, digests)
        return written

    async def _duplicates(
        self, mapping: Mapping, sql: Statements, digests: Digests, prepared: Again
    ) -> list[tuple[Any, str]]:
        """Staged rows whose unique value another document holds: taken out of staging, returned as rejects
        (with their documents, which only then are fetched again, and their digests added to ``digests``)."""
        found = [
            (path, digest, f"duplicate {column} {value!r}: another document already has it")
            for column, statement in zip(mapping.unique, sql.reject_duplicates, strict=True)
            for path, digest, value in await self.db.fetch(statement)
        ]
        if not found:
            return []
        documents = {doc.path: doc for doc, _ in (await prepared())[0]}
        digests.update((path, digest) for path, digest, _ in found)
        return [(documents[path], reason) for path, _, reason in found]

    async def _dead_letters(self, stage: str, rejects: list[tuple[Any, str]], digests: Digests) -> None:
        if not rejects:
            return
        paths = [doc.path for doc, _ in rejects]
        await self.db.execute(RECORD_REJECTED, stage, paths, [digests[p] for p in paths])
        await self.db.executemany(
            "INSERT INTO etl_dead_letters (id, run_id, collection, document_path, reason, document) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection, document_path) DO UPDATE "
            "SET reason = EXCLUDED.reason, document = EXCLUDED.document, run_id = EXCLUDED.run_id "
            "WHERE (etl_dead_letters.reason, etl_dead_letters.document) "
            "IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.document)",
            [
                (imported_id(f"{stage}:{doc.path}"), self.run_id, stage, doc.path, reason, _storable(doc))
                for doc, reason in rejects
            ],
        )


def _storable(document: Any) -> Any:
    """The document as jsonb can hold it: a NUL character (legal in Firestore) is kept as the text \\u0000."""
    encoded = encode_json(document)
    return decode_json(encoded.replace(b"\\u0000", b"\\\\u0000")) if b"\\u0000" in encoded else document


async def checkpoint(db: asyncpg.Connection, snapshot: str, stage: str) -> tuple[int, StageCounts]:
    row = await db.fetchrow(
        "SELECT position, counts FROM etl_checkpoints WHERE snapshot_id = $1 AND collection = $2", snapshot, stage
    )
    if row is None:
        return 0, StageCounts()
    return row["position"], msgspec.convert(row["counts"], StageCounts)


def linked_tables(mapping: Mapping) -> list[str]:
    """The tables a mapping's keys point into; with membership rows, its own table too (they point to it)."""
    targets = {r.target for r in mapping.refs}
    if mapping.members:
        targets |= {mapping.members.target, mapping.table}
    return sorted(targets)

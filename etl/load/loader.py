"""Load a snapshot into Postgres: stream, transform, COPY into staging, upsert; resumable and exactly-once.

Each mapping is a stage, loaded in batches. One batch is one transaction: COPY into a temporary staging
table, a set-based upsert keyed on ``firebase_id`` (unchanged rows are not written), membership rows,
dead letters, and the stage's checkpoint. A SIGKILL at any moment therefore loses at most the batch in
flight, whose transaction never committed; the rerun starts from the checkpoint and, because ids and
every column are functions of the snapshot, reaches the same rows an uninterrupted run would.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from etl.load import auth
from etl.load.counts import StageCounts
from etl.load.sql import Mapping, Statements, statements
from etl.snapshot import AuthUser, Document, Snapshot, collection_pattern
from etl.transform import GENERIC, MAPPINGS, USERS, Context, Rejected, Row, imported_id
from etl.transform.engine import rfc3339
from service.db.models.base import uuid7

AUTH_STAGE = "auth_users"
DEFAULT_BATCH = 2000
# Errors a single bad row can cause: the batch is then retried row by row and the row dead-lettered.
ROW_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)

Progress = Callable[[str, int, int | None], None]  # (stage, documents done in this step, stage total)


@dataclass
class LoadResult:
    snapshot_id: str
    run_id: Any
    dry_run: bool
    stages: dict[str, StageCounts] = field(default_factory=dict)


def snapshot_id(snapshot: Snapshot) -> str:
    """Stable for one snapshot directory, different for another extract."""
    manifest = snapshot.manifest
    return f"{manifest.project_id or 'files'}@{manifest.created_at}"


def stage_names() -> list[str]:
    """Stages in load order: the auth-only users come right after the profiles."""
    names = [m.name for m in MAPPINGS]
    names.insert(names.index(USERS.name) + 1, AUTH_STAGE)
    return names


async def load(
    connection: asyncpg.Connection,
    snapshot: Snapshot,
    *,
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    restart: bool = False,
    default_region: str = "US",
    progress: Progress | None = None,
) -> LoadResult:
    """Load every stage not yet finished for this snapshot. ``dry_run`` rolls everything back at the end."""
    await binary_jsonb(connection)
    loader = _Loader(connection, snapshot, batch_size, default_region, progress or (lambda *_: None))
    result = LoadResult(snapshot_id(snapshot), None, dry_run)
    async with _outer(connection, dry_run):
        result.run_id = await loader.start_run(restart)
        for mapping in MAPPINGS:
            result.stages[mapping.name] = await loader.stage(mapping)
            if mapping is USERS:
                result.stages[AUTH_STAGE] = await loader.auth_stage()
        await loader.finish_run(result)
    return result


async def binary_jsonb(connection: asyncpg.Connection) -> None:
    """jsonb in binary format (a version byte, then the text): COPY only takes binary encoders."""
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + _encode_json(value),
        decoder=lambda data: _decode_json(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


@asynccontextmanager
async def _outer(connection: asyncpg.Connection, dry_run: bool) -> AsyncIterator[None]:
    """A dry run is one transaction rolled back: it reports exactly what a real load would do."""
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
    def __init__(
        self, connection: asyncpg.Connection, snapshot: Snapshot, batch_size: int, region: str, progress: Progress
    ) -> None:
        self.db = connection
        self.snapshot = snapshot
        self.snapshot_id = snapshot_id(snapshot)
        self.batch_size = batch_size
        self.progress = progress
        read_time = rfc3339(snapshot.manifest.read_time) or rfc3339(snapshot.manifest.created_at)
        self.ctx = Context(default_region=region, read_time=read_time or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        self.run_id: Any = None
        self.auth_ready = False

    # -- the run and its checkpoints -----------------------------------------------------------

    async def start_run(self, restart: bool) -> Any:
        if restart:
            await self.db.execute("DELETE FROM etl_checkpoints WHERE snapshot_id = $1", self.snapshot_id)
        self.run_id = uuid7()
        await self.db.execute(
            "INSERT INTO etl_runs (id, command, snapshot, started_at) VALUES ($1, 'load', $2, now())",
            self.run_id,
            self.snapshot_id,
        )
        return self.run_id

    async def finish_run(self, result: LoadResult) -> None:
        report = {name: msgspec.to_builtins(counts) for name, counts in result.stages.items()}
        await self.db.execute(
            "UPDATE etl_runs SET status = 'succeeded', finished_at = now(), report = $2 WHERE id = $1",
            self.run_id,
            report,
        )

    async def checkpoint(self, stage: str) -> tuple[int, StageCounts]:
        row = await self.db.fetchrow(
            "SELECT position, counts FROM etl_checkpoints WHERE snapshot_id = $1 AND collection = $2",
            self.snapshot_id,
            stage,
        )
        if row is None:
            return 0, StageCounts()
        return row["position"], msgspec.convert(row["counts"], StageCounts)

    async def save_checkpoint(self, stage: str, position: int, counts: StageCounts) -> None:
        await self.db.execute(
            "INSERT INTO etl_checkpoints (snapshot_id, collection, position, counts, updated_at) "
            "VALUES ($1, $2, $3, $4, now()) ON CONFLICT (snapshot_id, collection) "
            "DO UPDATE SET position = EXCLUDED.position, counts = EXCLUDED.counts, updated_at = now()",
            self.snapshot_id,
            stage,
            position,
            counts,
        )

    # -- stages ----------------------------------------------------------------------------------

    def documents(self, mapping: Mapping) -> Iterator[Document]:
        """The mapping's documents in snapshot order; only the root files that hold some are read."""
        wanted = [p for p in self.snapshot.manifest.collections if mapping.covers(p)]
        for root in sorted({p.split("/", 1)[0] for p in wanted}):
            yield from (doc for doc in self.snapshot.iter_documents(root) if mapping.matches(doc))

    def total(self, mapping: Mapping) -> int:
        return sum(n for p, n in self.snapshot.manifest.collections.items() if mapping.covers(p))

    async def stage(self, mapping: Mapping) -> StageCounts:
        position, counts = await self.checkpoint(mapping.name)
        if counts.done:
            return counts
        sql = await self._statements(mapping)
        if mapping.uses_auth:
            await self._prepare_auth()
        self.progress(mapping.name, position, self.total(mapping))
        docs = itertools.islice(self.documents(mapping), position, None)
        for batch in _batched(docs, self.batch_size):
            users = await auth.lookup(self.db, batch) if mapping.uses_auth else {}
            prepared = [(doc, self._transform(mapping, doc, position + i, users.get(doc.path)))
                        for i, doc in enumerate(batch)]
            position += len(batch)
            await self._commit(mapping, sql, mapping.name, prepared, position, counts)
        counts.done = True
        await self.save_checkpoint(mapping.name, position, counts)
        return counts

    async def auth_stage(self) -> StageCounts:
        """Auth users without a profile document: users of their own."""
        position, counts = await self.checkpoint(AUTH_STAGE)
        if counts.done:
            return counts
        await self._prepare_auth()
        sql = await self._statements(USERS)
        self.progress(AUTH_STAGE, 0, None)
        while batch := await auth.unclaimed(self.db, position, self.batch_size):
            prepared = []
            for _, user in batch:
                doc = auth.auth_document(user)
                outcome = self._transform(USERS, doc, 0, user) if "/" not in user.uid else Rejected("uid has a /")
                prepared.append((_auth_record(user, doc), outcome))
            position = batch[-1][0]
            await self._commit(USERS, sql, AUTH_STAGE, prepared, position, counts)
        counts.done = True
        await self.save_checkpoint(AUTH_STAGE, position, counts)
        return counts

    async def _prepare_auth(self) -> None:
        if not self.auth_ready:
            await auth.prepare(self.db, self.snapshot, self.documents(USERS))
            self.auth_ready = True

    async def _statements(self, mapping: Mapping) -> Statements:
        sql = statements(mapping)
        for statement in sql.create:
            await self.db.execute(statement)
        return sql

    def _transform(self, mapping: Mapping, doc: Document, position: int, user: AuthUser | None) -> Row | Rejected:
        return mapping.transform(doc, position, self.ctx, user)

    # -- one batch: one transaction ------------------------------------------------------------

    async def _commit(
        self,
        mapping: Mapping,
        sql: Statements,
        stage: str,
        prepared: list[tuple[Any, Row | Rejected]],
        position: int,
        counts: StageCounts,
    ) -> None:
        batch = _observed(mapping, prepared)
        rows = [(doc, outcome) for doc, outcome in prepared if isinstance(outcome, Row)]
        rejects = [(doc, outcome.reason) for doc, outcome in prepared if isinstance(outcome, Rejected)]
        async with self.db.transaction():
            try:
                async with self.db.transaction():
                    written = await self._write(mapping, sql, stage, rows, rejects)
            except ROW_ERRORS:
                written = await self._write_one_by_one(mapping, sql, stage, rows, rejects)
            batch.add(written)
            counts.add(batch)
            await self.save_checkpoint(stage, position, counts)
        self.progress(stage, len(prepared), None)

    async def _write_one_by_one(
        self, mapping: Mapping, sql: Statements, stage: str, rows: list, rejects: list
    ) -> StageCounts:
        total = StageCounts()
        for doc, row in rows:
            try:
                async with self.db.transaction():
                    total.add(await self._write(mapping, sql, stage, [(doc, row)], []))
            except ROW_ERRORS as exc:
                rejects.append((doc, f"the database refused the row: {exc}"))
        total.add(await self._write(mapping, sql, stage, [], rejects))
        return total

    async def _write(self, mapping: Mapping, sql: Statements, stage: str, rows: list, rejects: list) -> StageCounts:
        for statement in sql.clear:
            await self.db.execute(statement)
        written = StageCounts()
        if rows:
            await self.db.copy_records_to_table(sql.stage, records=[r.values for _, r in rows], columns=mapping.columns)
            if sql.members_stage:
                members = [m for _, r in rows for m in r.members]
                await self.db.copy_records_to_table(sql.members_stage, records=members)
            duplicates = await self._duplicates(mapping, sql, rows)
            inserted, updated, orphans = await self.db.fetchrow(sql.upsert)
            for statement in sql.sync_members:
                await self.db.execute(statement)
            if sql.member_orphans:
                orphans += await self.db.fetchval(sql.member_orphans)
            await self.db.execute(sql.forget_dead_letters, stage)
            unchanged = len(rows) - len(duplicates) - inserted - updated
            written = StageCounts(inserted=inserted, updated=updated, unchanged=unchanged, orphans=orphans)
            rejects = rejects + duplicates
        written.rejected = len(rejects)
        await self._dead_letters(stage, rejects)
        return written

    async def _duplicates(self, mapping: Mapping, sql: Statements, rows: list) -> list[tuple[Any, str]]:
        by_path = {doc.path: doc for doc, _ in rows}
        out = []
        for column, statement in zip(mapping.unique, sql.reject_duplicates, strict=True):
            for path, value in await self.db.fetch(statement):
                out.append((by_path[path], f"duplicate {column} {value!r}: another document already has it"))
        return out

    async def _dead_letters(self, stage: str, rejects: list[tuple[Any, str]]) -> None:
        if not rejects:
            return
        await self.db.executemany(
            "INSERT INTO etl_dead_letters (id, run_id, collection, document_path, reason, document) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection, document_path) DO UPDATE "
            "SET reason = EXCLUDED.reason, document = EXCLUDED.document, run_id = EXCLUDED.run_id "
            "WHERE (etl_dead_letters.reason, etl_dead_letters.document) "
            "IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.document)",
            [
                (imported_id(f"{stage}:{doc.path}", self.ctx.read_time), self.run_id, stage, doc.path, reason,
                 msgspec.to_builtins(doc))
                for doc, reason in rejects
            ],
        )


class _AuthRecord(msgspec.Struct):
    """What a dead letter keeps of an Auth user: the record, at the path its profile would have."""

    path: str
    auth: AuthUser


def _auth_record(user: AuthUser, doc: Document) -> Any:
    return _AuthRecord(path=doc.path, auth=user)


def _observed(mapping: Mapping, prepared: list[tuple[Any, Row | Rejected]]) -> StageCounts:
    counts = StageCounts(source=len(prepared))
    for doc, outcome in prepared:
        if isinstance(outcome, Row):
            counts.truncated_timestamps += outcome.truncated
            for column in outcome.raw_kept:
                counts.raw_kept[column] = counts.raw_kept.get(column, 0) + 1
        if mapping is GENERIC:
            pattern = collection_pattern(doc.path)
            counts.collections[pattern] = counts.collections.get(pattern, 0) + 1
    return counts


def _batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch

"""The stages of an import and their documents, transformed, in batches: what load writes, verify compares.

Stages run in ``STAGES`` order, so a link's target table is complete before the rows that point to it.
The Auth users that no profile document takes are a stage of their own, right after the profiles.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from etl.load import auth
from etl.load.counts import StageCounts
from etl.load.sql import Mapping, Statements, statements
from etl.snapshot import AuthUser, Document, Snapshot, collection_pattern, line_digest
from etl.transform import GENERIC, MAPPINGS, USERS, Context, Rejected, Row
from etl.transform.engine import rfc3339

AUTH_STAGE = "auth_users"
STAGES: tuple[tuple[str, Mapping], ...] = tuple(
    pair for m in MAPPINGS for pair in ([(m.name, m), (AUTH_STAGE, USERS)] if m is USERS else [(m.name, m)])
)
T = TypeVar("T")
# Errors one bad row can cause: the batch is then written row by row, and that row dead-lettered.
ROW_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)
MEMBER_COLUMNS = ("owner", "position", "member", "raw")  # as ``Row.members``; member_id is resolved in SQL
# A batch ends early at this many membership rows (campaign contactIds, room members): 5,000 campaigns of 20
# contacts each held 100k of them, and the staging worker's memory rose 50 MB for two such batches.
MEMBERS_PER_BATCH = 20_000
Prepared = tuple[Any, Row | Rejected]  # (the source record, what the transform made of it)
Loadable = tuple[Any, Row]  # a prepared record that became a row
Digests = dict[str, str]  # source path -> digest of its source (see ``auth.profile_digest``), for one batch
Again = Callable[[], Awaitable[tuple[list[Prepared], Digests]]]  # a batch's documents and digests, again


@dataclass
class Batch:
    """One batch as the load writes it: its rows staged in ``sql``'s tables, and what the transform saw."""

    position: int  # the stage's position after it
    counts: StageCounts  # documents, lost precision, values kept raw (``observed``)
    rows: int  # rows staged; -1 if the staging COPY refused one (the load then writes them one by one)
    rejects: list[tuple[Any, str]]  # (document, reason) the transform rejected
    digests: Digests  # the rejected documents' source digests (the load adds those of duplicates it finds)
    sql: Statements
    prepared: Again  # the whole batch, for the rare second look


def observed(mapping: Mapping, prepared: list[Prepared]) -> StageCounts:
    """What the transform saw in a batch: documents, lost precision, values kept raw, unknown collections."""
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


def snapshot_id(snapshot: Snapshot) -> str:
    """Stable for one snapshot directory, different for another extract."""
    manifest = snapshot.manifest
    return f"{manifest.project_id or 'files'}@{manifest.created_at}"


def context(snapshot: Snapshot, default_region: str) -> Context:
    manifest = snapshot.manifest
    read_time = rfc3339(manifest.read_time) or rfc3339(manifest.created_at)
    return Context(default_region=default_region, read_time=read_time or dt.datetime(1970, 1, 1, tzinfo=dt.UTC))


class Batches:
    """Reads one snapshot stage by stage, on one connection (it owns the Auth join's temporary tables)."""

    def __init__(self, db: asyncpg.Connection, snapshot: Snapshot, batch_size: int, ctx: Context) -> None:
        self.db = db
        self.snapshot = snapshot
        self.batch_size = batch_size
        self.ctx = ctx
        self._auth_ready = False

    def _roots(self, mapping: Mapping) -> list[str]:
        """The root files that hold some of the mapping's documents: only those are read."""
        return sorted({p.split("/", 1)[0] for p in self.snapshot.manifest.collections if mapping.covers(p)})

    def documents(self, mapping: Mapping) -> Iterator[Document]:
        """The mapping's documents in snapshot order."""
        for root in self._roots(mapping):
            yield from (doc for doc in self.snapshot.iter_documents(root) if mapping.matches(doc))

    def lines(self, mapping: Mapping) -> Iterator[tuple[Document, bytes]]:
        """``documents`` with each one's snapshot line (``line_digest`` of it is the document's digest)."""
        for root in self._roots(mapping):
            yield from (pair for pair in self.snapshot.iter_lines(root) if mapping.matches(pair[0]))

    def total(self, stage: str, mapping: Mapping) -> int | None:
        if stage == AUTH_STAGE:
            return None
        return sum(n for p, n in self.snapshot.manifest.collections.items() if mapping.covers(p))

    async def statements(self, mapping: Mapping) -> Statements:
        sql = statements(mapping)
        for statement in sql.create:
            await self.db.execute(statement)
        if mapping.uses_auth and not self._auth_ready:
            await auth.prepare(self.db, self.snapshot, self.documents(USERS))
            self._auth_ready = True
        return sql

    async def staged(self, stage: str, mapping: Mapping, position: int, sql: Statements) -> AsyncIterator[Batch]:
        """The stage's batches from ``position`` on, each staged in this session's temporary tables."""
        analyzed = False
        async for end, prepared, digests in self.batches(stage, mapping, position):
            rows, counts, rejects, rejected = await stage_batch(self.db, sql, mapping, prepared, digests, not analyzed)
            analyzed = analyzed or rows > 0
            yield Batch(end, counts, rows, rejects, rejected, sql, returning(prepared, digests))

    async def batches(
        self, stage: str, mapping: Mapping, position: int
    ) -> AsyncIterator[tuple[int, list[Prepared], Digests]]:
        """(position after the batch, the batch, its source digests) from ``position`` on."""
        if stage == AUTH_STAGE:
            async for item in self._auth_only(position):
                yield item
            return
        if mapping.uses_auth:  # each batch needs its Auth users from the database first
            docs = itertools.islice(self.lines(mapping), position, None)
            for batch in _batched(docs, self.batch_size):
                users = await auth.lookup(self.db, [d for d, _ in batch])
                digests = {d.path: auth.profile_digest(line_digest(line), users.get(d.path)) for d, line in batch}
                yield position + len(batch), self.transform(mapping, [d for d, _ in batch], position, users), digests
                position += len(batch)
            return
        # Read and transform the next batch in a thread while the database writes this one.
        prepared = self.prepared(mapping, position)
        pending = asyncio.ensure_future(asyncio.to_thread(next, prepared, None))
        while (ready := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, prepared, None))
            yield ready[:3]  # not its lines: only the staging worker keeps them, for a second look

    def prepared(self, mapping: Mapping, position: int) -> Iterator[tuple[int, list[Prepared], Digests, list[bytes]]]:
        """The batches of a mapping that needs no Auth users, from ``position`` on, without the database:
        (position after the batch, the batch, its digests, its snapshot lines)."""
        lines = enumerate(itertools.islice(self.lines(mapping), position, None), position)
        transformed = ((d, mapping.transform(d, at, self.ctx, None), line) for at, (d, line) in lines)
        for batch in _batched(transformed, self.batch_size, _membership_rows, MEMBERS_PER_BATCH):
            digests = {d.path: line_digest(line) for d, _, line in batch}
            yield position + len(batch), [(d, outcome) for d, outcome, _ in batch], digests, [b[2] for b in batch]
            position += len(batch)

    def transform(
        self, mapping: Mapping, documents: list[Document], position: int, users: dict[str, AuthUser]
    ) -> list[Prepared]:
        return [(d, mapping.transform(d, position + i, self.ctx, users.get(d.path))) for i, d in enumerate(documents)]

    async def _auth_only(self, position: int) -> AsyncIterator[tuple[int, list[Prepared], Digests]]:
        """Position here is the last Auth user's place in the snapshot (the stream skips claimed ones)."""
        while batch := await auth.unclaimed(self.db, position, self.batch_size):
            prepared: list[Prepared] = []
            digests: Digests = {}
            for _, user in batch:
                doc = auth.auth_document(user)
                outcome = USERS.transform(doc, 0, self.ctx, user) if "/" not in user.uid else Rejected("uid has a /")
                prepared.append((AuthRecord(path=doc.path, fields={}, auth=user), outcome))
                digests[doc.path] = auth.auth_digest(user)
            position = batch[-1][0]
            yield position, prepared, digests


class AuthRecord(Document, kw_only=True):
    """An Auth user as a record with a path (where its profile would be), for dead letters and reports."""

    auth: AuthUser


async def stage_rows(
    db: asyncpg.Connection, sql: Statements, mapping: Mapping, rows: list[Loadable], digests: Digests, analyze: bool
) -> None:
    """Replace the staging tables' contents with these rows (and their membership rows); their member
    ids are resolved later, in the transaction that writes them (``resolve_members``).

    ``analyze``: gather the staging tables' statistics (once a stage is enough: TRUNCATE keeps the column
    statistics, and the planner takes the row count from the table's size; 30 ms a batch otherwise)."""
    for statement in sql.clear:
        await db.execute(statement)
    await db.copy_records_to_table(
        sql.stage,
        records=[(*r.values, d.path, digests[d.path]) for d, r in rows],
        columns=(*mapping.columns, "source__path", "source__digest"),
    )
    if sql.members_stage:
        await db.copy_records_to_table(
            sql.members_stage, records=[m for _, r in rows for m in r.members], columns=MEMBER_COLUMNS
        )
    # Statistics of what is staged, so the planner probes the target tables' indexes per staged row
    # rather than hashing those tables whole for every batch.
    if analyze:
        await db.execute(f"ANALYZE {', '.join(t for t in (sql.stage, sql.members_stage) if t)}")


def returning(prepared: list[Prepared], digests: Digests) -> Again:
    async def again() -> tuple[list[Prepared], Digests]:
        return prepared, digests

    return again


async def stage_batch(
    db: asyncpg.Connection, sql: Statements, mapping: Mapping, prepared: list[Prepared], digests: Digests, analyze: bool
) -> tuple[int, StageCounts, list[tuple[Any, str]], Digests]:
    """Stage a prepared batch's rows (``analyze``: and gather statistics, if it has any).

    Returns the ``Batch`` fields the transform and staging decide: (rows staged, or -1 if the database refused
    one of them, a NUL in text say; what the transform saw; its rejects; their source digests)."""
    rows = [(doc, outcome) for doc, outcome in prepared if isinstance(outcome, Row)]
    rejects = [(doc, outcome.reason) for doc, outcome in prepared if isinstance(outcome, Rejected)]
    try:
        await stage_rows(db, sql, mapping, rows, digests, analyze=analyze and bool(rows))
        staged = len(rows)
    except ROW_ERRORS:
        staged = -1
    return staged, observed(mapping, prepared), rejects, {doc.path: digests[doc.path] for doc, _ in rejects}


def _batched(
    items: Iterable[T], size: int, weight: Callable[[T], int] = lambda _: 0, most: float = math.inf
) -> Iterator[list[T]]:
    """Lists of ``size`` items, or fewer once their ``weight``s reach ``most``."""
    batch: list[T] = []
    total = 0
    for item in items:
        batch.append(item)
        total += weight(item)
        if len(batch) == size or total >= most:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _membership_rows(item: tuple[Any, Row | Rejected, bytes]) -> int:
    return len(item[1].members) if isinstance(item[1], Row) else 0

"""Verify: re-read the snapshot and the database, and account for every source document.

Each load records, per source document, the digest of its source (its snapshot line; for a profile, with the
Auth user it joined) and the digest of the row it had to become, computed by PostgreSQL from the staged row
with its links resolved (``etl_documents``, see ``etl.load.sql.RECORD``). Verify takes every line's digest
from the snapshot (the ``.digests`` files the extract wrote next to the documents, sent to the server as they
are while both files keep the lengths the extract gave them; else by hashing every line again) and has SQL
compare, per document: the line's digest with the recorded one (the load saw this very document), and the
recorded row digest with the digest of the row in the table now (membership rows included). Both equal:
loaded. No row and a dead letter: rejected. A row that differs and that the service changed after the first
import: changed since. Otherwise unaccounted or mismatched.

The transform is not run again: a document the load saw unchanged became the row it records, so comparing
digests is enough, and verify costs a read of the snapshot plus one set-based statement per stage.
The per-stage checksum is the sum of the row digests, on each side.
"""

from __future__ import annotations

import asyncpg

from etl.load import auth
from etl.load.counts import StageCounts
from etl.load.loader import Progress, checkpoint
from etl.load.session import NO_JIT, binary_jsonb
from etl.load.sql import Mapping, changed_by_service, row_digest
from etl.load.stages import AUTH_STAGE, STAGES, Batches, context, snapshot_id
from etl.snapshot import Snapshot
from etl.transform import GENERIC, SPECS, USERS
from etl.verify.report import Report, StageReport

MAX_EXAMPLES = 10
CHUNK = 10_000
_MASK = 2**64 - 1

# The source side: a document's collection pattern (each stage is a set of patterns), path and digest; an Auth
# user without a profile has no pattern (it is no document).
SOURCE = (
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_source (pattern text, path text, digest text)",
    "TRUNCATE etl_verify_source",
)
# A profile's source digest also covers the Auth user it joins (as ``auth.lookup`` picks it), see
# ``auth.profile_digest``.
PROFILE_DIGESTS = """
UPDATE etl_verify_source s SET digest = md5(s.digest || coalesce(
  (SELECT a.record FROM etl_auth a WHERE a.uid = split_part(s.path, '/', 2)),
  (SELECT a.record FROM etl_auth a JOIN etl_profiles p ON p.email = a.email
   WHERE p.doc_id = split_part(s.path, '/', 2) ORDER BY a.ord DESC LIMIT 1),
  ''))
WHERE s.pattern = $1
"""
# A load leaves its tables without statistics until autovacuum comes by; without them the planner joins the
# records to the rows one index probe at a time (3x slower at 1M documents than its parallel hash join). So
# verify first analyzes what autovacuum would analyze next (its default rule: 50 rows plus a tenth changed).
STALE = """
SELECT relid::regclass::text AS name FROM pg_stat_user_tables
WHERE relid = ANY($1::text[]::regclass[]) AND n_mod_since_analyze > 50 + 0.1 * n_live_tup
"""
# Row digests recorded before they were 64-bit hashes (16 hex digits) were MD5s (32): they compare with nothing.
# A load records all of a stage's documents again, so one row tells.
OLD_DIGESTS = "SELECT length(want) <> 16 FROM etl_documents WHERE want IS NOT NULL LIMIT 1"
AUTH_ONLY = (
    f"INSERT INTO etl_verify_source SELECT NULL, 'users/' || a.uid, md5(a.record) "  # noqa: S608
    f"FROM etl_auth a WHERE {auth.UNCLAIMED_WHERE}"
)


class VerifyError(Exception):
    """A verify that cannot run (the message says what to do)."""


async def verify(
    db: asyncpg.Connection, snapshot: Snapshot, *, default_region: str = "US", progress: Progress | None = None
) -> Report:
    await binary_jsonb(db)
    await db.execute(NO_JIT)
    if await db.fetchval(OLD_DIGESTS):
        raise VerifyError(
            "this database's import records are from an older etl load (MD5 row digests): "
            "run `etl load --restart` once (it rewrites no row), then verify"
        )
    sid = snapshot_id(snapshot)
    batches = Batches(db, snapshot, CHUNK, context(snapshot, default_region))
    notify = progress or (lambda *_: None)
    for name, mapping in STAGES:
        notify(name, 0, batches.total(name, mapping))
    await _stage_sources(db, snapshot, batches, notify)
    tables = {"etl_documents", *(m.table for _, m in STAGES), *(m.members.table for _, m in STAGES if m.members)}
    stale = [row["name"] for row in await db.fetch(STALE, sorted(tables))]
    if stale:
        await db.execute(f"ANALYZE {', '.join(stale)}")
    patterns = _patterns(snapshot)
    stages = []
    for name, mapping in STAGES:
        counts = (await checkpoint(db, sid, name))[1]
        stages.append(await _verify_stage(db, name, mapping, counts, patterns.get(name, [])))
    return Report(snapshot_id=sid, verified=True, stages=stages)


def _patterns(snapshot: Snapshot) -> dict[str, list[str]]:
    """The collection patterns of each stage, among those of the snapshot."""
    out: dict[str, list[str]] = {}
    for pattern in snapshot.manifest.collections:
        out.setdefault(next((s.name for s in SPECS if s.covers(pattern)), GENERIC.name), []).append(pattern)
    return out


async def _stage_sources(db: asyncpg.Connection, snapshot: Snapshot, batches: Batches, progress: Progress) -> None:
    """(pattern, path, digest) of every source document and Auth user without a profile, in a temporary table.

    The extract wrote (pattern, path, digest) of each document in COPY's own format: those files go to the
    server as they are, and no document is decoded here (only a snapshot without them is read line by line).
    """
    for statement in SOURCE:
        await db.execute(statement)
    await auth.prepare(db, snapshot, batches.documents(USERS))
    for root in snapshot.roots():
        digests = snapshot.digests(root)
        if digests is None:
            await db.copy_records_to_table("etl_verify_source", records=snapshot.iter_digests(root))
        else:
            await db.copy_to_table("etl_verify_source", source=digests)
    for name, mapping in STAGES:
        progress(name, batches.total(name, mapping) or 0, None)
    await db.execute(PROFILE_DIGESTS, USERS.pattern)
    added = await db.execute(AUTH_ONLY)
    progress(AUTH_STAGE, int(added.rsplit(" ", 1)[-1]), None)
    await db.execute("ANALYZE etl_verify_source")


def compare(mapping: Mapping, *, auth_only: bool = False) -> str:
    """Per stage ($1, with its collection patterns $2; none for the Auth users without a profile): counts of
    each outcome, both checksums, and a few paths of what is wrong.

    Each row's digest is computed in ``r``, the join of the records with the table: both are ordinary tables,
    so PostgreSQL can run that part (the digests are most of the work) in parallel workers; the source
    documents, a temporary table, join it after (2.5x faster at 1M documents than one join of all three).
    """
    return f"""
WITH r AS (
  SELECT rec.document_path, rec.source_digest, rec.want,
    CASE WHEN t.firebase_id IS NOT NULL THEN {row_digest(mapping, "t")} END AS got,
    {changed_by_service(mapping, "t")} AS changed
  FROM etl_documents rec LEFT JOIN {mapping.table} t ON t.firebase_id = rec.firebase_id
  WHERE rec.stage = $1
), k AS (
  SELECT src.path, r.want, r.got, CASE
    WHEN r.document_path IS NOT NULL AND r.source_digest IS DISTINCT FROM src.digest THEN 'mismatched'
    WHEN r.got IS NULL THEN CASE
      WHEN EXISTS (SELECT 1 FROM etl_dead_letters d WHERE d.collection = $1 AND d.document_path = src.path)
      THEN 'rejected' ELSE 'unaccounted' END
    WHEN r.got = r.want THEN 'matching'
    WHEN r.changed THEN 'changed'
    ELSE 'mismatched' END AS outcome
  FROM etl_verify_source src LEFT JOIN r ON r.document_path = src.path
  WHERE {"src.pattern IS NULL" if auth_only else "src.pattern = ANY($2::text[])"}
  OFFSET 0  -- each row's outcome once: inlined, every FILTER below would compute it again
)
SELECT count(*) AS source,
  count(*) FILTER (WHERE outcome = 'matching') AS matching,
  count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
  count(*) FILTER (WHERE outcome = 'mismatched') AS mismatched,
  count(*) FILTER (WHERE outcome = 'unaccounted') AS unaccounted,
  count(*) FILTER (WHERE outcome = 'changed') AS changed_since,
  coalesce(sum(('x' || left(want, 16))::bit(64)::bigint) FILTER (WHERE outcome <> 'rejected'), 0) AS want,
  coalesce(sum(('x' || left(got, 16))::bit(64)::bigint), 0) AS got,
  (array_agg(path ORDER BY path) FILTER (WHERE outcome IN ('mismatched', 'unaccounted')))[1:{MAX_EXAMPLES}]
    AS examples
FROM k
"""  # noqa: S608 - identifiers from the specs in code


async def _verify_stage(
    db: asyncpg.Connection, name: str, mapping: Mapping, counts: StageCounts, patterns: list[str]
) -> StageReport:
    if name == AUTH_STAGE:
        found = await db.fetchrow(compare(mapping, auth_only=True), name)
    else:
        found = await db.fetchrow(compare(mapping), name, patterns)
    return StageReport(
        stage=name,
        table=mapping.table,
        load=counts,
        source=found["source"],
        matching=found["matching"],
        rejected=found["rejected"],
        mismatched=found["mismatched"],
        unaccounted=found["unaccounted"],
        changed_since=found["changed_since"],
        checksum_source=f"{int(found['want']) & _MASK:016x}",
        checksum_target=f"{int(found['got']) & _MASK:016x}",
        examples=list(found["examples"] or []),
    )

"""SQL for one mapping, generated from its spec: the staging tables and the set-based upsert.

Links are resolved here, by joining the staging rows to the target tables on ``firebase_id`` (or on the
user's e-mail), so the Python side never holds an id map. A link whose target is missing gives a null
key, keeps its raw source value in ``extra`` (export writes it back), and counts as an orphan.
"""

# ruff: noqa: S608 - every identifier comes from the specs in code, never from data

from __future__ import annotations

from dataclasses import dataclass

from etl.transform import Generic, Spec
from etl.transform.engine import GUESSED_TIMES

Mapping = Spec | Generic


@dataclass(frozen=True)
class Statements:
    stage: str
    members_stage: str | None
    create: tuple[str, ...]
    clear: tuple[str, ...]
    drop: tuple[str, ...]
    reject_duplicates: tuple[str, ...]
    upsert: str
    insert: str  # ``upsert`` for a stage's first import: plain inserts (see ``_insert``)
    sync_members: tuple[str, ...]
    member_orphans: str | None
    forget_dead_letters: str
    resolve_members: tuple[str, ...]


def statements(mapping: Mapping, slot: int | None = None) -> Statements:
    """The statements of one staging table pair: this session's temporary tables, or with ``slot`` one of
    the unlogged tables that the staging process (``etl.load.staging``) fills from its own session."""
    stage = f"etl_stage_{mapping.name}" if slot is None else f"etl_slot{slot}_{mapping.name}"
    kind = "TEMP" if slot is None else "UNLOGGED"
    members_stage = f"{stage}_members" if mapping.members else None
    create = [
        f"CREATE {kind} TABLE IF NOT EXISTS {stage} AS SELECT {', '.join(_copied(mapping))} "
        f"FROM {mapping.table} WITH NO DATA",
        f"ALTER TABLE {stage} ADD COLUMN IF NOT EXISTS ord integer"
        + "".join(
            f", ADD COLUMN IF NOT EXISTS {r.column}__path text, ADD COLUMN IF NOT EXISTS {r.column}__email text"
            f", ADD COLUMN IF NOT EXISTS {r.column}__raw jsonb"
            for r in mapping.refs
        )
        + (", ADD COLUMN IF NOT EXISTS times__guess timestamptz" if "times__guess" in mapping.columns else "")
        + ", ADD COLUMN IF NOT EXISTS source__path text, ADD COLUMN IF NOT EXISTS source__digest text",
    ]
    clear = [f"TRUNCATE {stage}"]
    if members_stage:
        create.append(
            f"CREATE {kind} TABLE IF NOT EXISTS {members_stage} "
            "(owner text, position integer, member text, raw jsonb, member_id uuid)"
        )
        # Each owner's members are looked up per owner row (unresolved ids, digests): without an index that
        # is a scan of the whole batch's members per owner, quadratic in the batch size.
        create.append(f"CREATE INDEX IF NOT EXISTS {members_stage}_owner ON {members_stage} (owner)")
        clear.append(f"TRUNCATE {members_stage}")
    return Statements(
        stage=stage,
        members_stage=members_stage,
        create=tuple(create),
        clear=tuple(clear),
        drop=tuple(f"DROP TABLE IF EXISTS {t}" for t in (stage, members_stage) if t),
        reject_duplicates=tuple(_reject_duplicates(mapping, stage, column) for column in mapping.unique),
        upsert=_upsert(mapping, stage, members_stage),
        insert=_insert(mapping, stage, members_stage),
        sync_members=_sync_members(mapping, stage, members_stage) if members_stage else (),
        member_orphans=_member_orphans(members_stage) if members_stage else None,
        resolve_members=_resolve_members(mapping, members_stage) if members_stage else (),
        forget_dead_letters=(
            f"DELETE FROM etl_dead_letters d USING {stage} s "
            "WHERE d.collection = $1 AND d.document_path = s.source__path"
        ),
    )


def _copied(mapping: Mapping) -> list[str]:
    """Target columns that staging carries as they are (all but the links)."""
    return [c for c in mapping.columns if c != "ord" and "__" not in c]


def _reject_duplicates(mapping: Mapping, stage: str, column: str) -> str:
    """Rows whose unique value another document holds: loaded earlier, or earlier in this batch."""
    return (
        f"DELETE FROM {stage} s WHERE s.{column} IS NOT NULL AND ("
        f"s.ord IN (SELECT ord FROM (SELECT ord, row_number() OVER (PARTITION BY {column} ORDER BY ord) AS n "
        f"FROM {stage} WHERE {column} IS NOT NULL) d WHERE d.n > 1) "
        f"OR EXISTS (SELECT 1 FROM {mapping.table} t WHERE t.{column} = s.{column} "
        f"AND t.firebase_id IS DISTINCT FROM s.firebase_id)) "
        f"RETURNING s.source__path, s.source__digest, s.{column}::text"
    )


def expected_rows(
    mapping: Mapping, stage: str, members_stage: str | None, *, fresh: bool = False
) -> tuple[list[str], str]:
    """(target columns, SELECT of the rows the staged documents must become), links resolved.

    The upsert writes exactly these rows, and verify compares the table against them. ``fresh``: the rows are
    not in the table yet (``_insert``), so there is no current row to take a missing time from.
    """
    select = {c: f"s.{c}" for c in _copied(mapping)}
    joins: list[str] = []
    if "times__guess" in mapping.columns:
        guessed = tuple(c for c in GUESSED_TIMES if c in select)
        if not fresh:
            # Only a row missing one of them needs the current row's: the others skip the index probe.
            missing = " OR ".join(f"s.{c} IS NULL" for c in guessed)
            joins.append(_lookup(mapping.table, "cur", f"firebase_id = s.firebase_id AND ({missing})", guessed))
        for column in guessed:
            current = "" if fresh else f"cur.{column}, "
            select[column] = f"COALESCE(s.{column}, {current}s.times__guess)"
    orphan_flags: list[str] = []
    extras: list[str] = []
    for ref in mapping.refs:
        alias = f"r_{ref.column}"
        joins.append(_lookup(ref.target, alias, f"firebase_id = s.{ref.column}__path", ("id",)))
        key = f"{alias}.id"
        if ref.by_email:
            joins.append(_lookup(ref.target, f"{alias}_e", f"email = s.{ref.column}__email", ("id",)))
            key = f"COALESCE({alias}.id, {alias}_e.id)"
        select[ref.column] = key
        orphan = f"(({key}) IS NULL AND (s.{ref.column}__path IS NOT NULL OR s.{ref.column}__email IS NOT NULL))"
        orphan_flags.append(f"({orphan})::int")
        extras.append(f"CASE WHEN {orphan} THEN COALESCE(s.{ref.column}__raw, '{{}}') ELSE '{{}}' END")
    if mapping.members and members_stage:
        extras.append(_unresolved_members(mapping, members_stage))
    if "extra" in select and extras:
        select["extra"] = " || ".join(["s.extra", *extras])
    src = ", ".join(f"{expr} AS {col}" for col, expr in select.items())
    orphans = " + ".join(orphan_flags) or "0"
    return list(select), (
        f"SELECT {src}, {orphans} AS orphans, s.source__path, s.source__digest FROM {stage} s {' '.join(joins)}"
    )


def _lookup(table: str, alias: str, condition: str, columns: tuple[str, ...]) -> str:
    """A join on a unique key, one index probe per staged row. As a plain join the planner, misled by the
    statistics of a table the load is filling, hashes the whole target table for every batch: quadratic.
    The LIMIT keeps the subquery from being flattened into such a join."""
    return f"LEFT JOIN LATERAL (SELECT {', '.join(columns)} FROM {table} WHERE {condition} LIMIT 1) {alias} ON true"


# Columns the service stamps with now() when it changes a row (a profile edit, a first-login rehash, a
# sign-in). Newer than the first import: the service's change since go-live, never overwritten or flagged.
SERVICE_TIMES = ("updated_at", "last_sign_in_at")
FIRST_IMPORT = "(SELECT min(started_at) FROM etl_runs WHERE command = 'load')"


def changed_by_service(mapping: Mapping, alias: str) -> str:
    """SQL: the row ``alias`` was changed by the service after the first import (false where unknowable)."""
    stamps = [f"{alias}.{c}" for c in SERVICE_TIMES if c in mapping.columns]
    if not stamps:
        return "false"
    return f"COALESCE(GREATEST({', '.join(stamps)}) > {FIRST_IMPORT}, false)"


def _upsert(mapping: Mapping, stage: str, members_stage: str | None) -> str:
    """One statement: resolve links, insert new rows, update changed ones, leave equal ones untouched.

    Returns (inserted, updated, orphans). Unchanged rows are not written at all (IS DISTINCT FROM), so a
    repeated import changes nothing.
    """
    return _write(mapping, stage, members_stage, upsert=True)


def _insert(mapping: Mapping, stage: str, members_stage: str | None) -> str:
    """``_upsert`` without the conflict clauses, for a stage whose documents have no row and no record yet
    (``etl.load.fresh``). Each ON CONFLICT costs an index search per row before the insert's own, and they are
    text keys: inserting 5,000 records into a 600k-row ``etl_documents`` took 60-70 ms instead of 130-150 ms.
    A row that exists after all fails the batch, which is then written again with ``_upsert``."""
    return _write(mapping, stage, members_stage, upsert=False)


def _write(mapping: Mapping, stage: str, members_stage: str | None, *, upsert: bool) -> str:
    columns, source = expected_rows(mapping, stage, members_stage, fresh=not upsert)
    conflict = ""
    if upsert:
        updated = [c for c in columns if c not in ("id", "firebase_id")]
        conflict = (
            f"ON CONFLICT (firebase_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in updated)} "
            f"WHERE ({', '.join(f't.{c}' for c in updated)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{c}' for c in updated)}) AND NOT {changed_by_service(mapping, 't')} "
        )
    record = _record(mapping, columns, members_stage, RECORD_CONFLICT if upsert else "")
    return (
        f"WITH src AS ({source}), "
        f"recorded AS ({record}), "
        f"written AS (INSERT INTO {mapping.table} AS t ({', '.join(columns)}) "
        f"SELECT {', '.join(columns)} FROM src {conflict}"
        f"RETURNING (t.xmax = 0) AS inserted) "
        f"SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated, "
        f"(SELECT coalesce(sum(orphans), 0) FROM src)::bigint AS orphans FROM written"
    )


# What a load records of each staged document (``etl_documents``): the digest of its source line(s) and of
# the row it must become. Verify re-reads the snapshot and compares these with the snapshot and the tables,
# so it needs no second transform. ``$1`` is the stage.
RECORD = (
    "INSERT INTO etl_documents AS r (stage, document_path, source_digest, firebase_id, want) "
    "SELECT $1, {path}, {digest}, {firebase_id}, {want} FROM {source} {conflict}"
)
RECORD_CONFLICT = (
    "ON CONFLICT (stage, document_path) DO UPDATE SET source_digest = EXCLUDED.source_digest, "
    "firebase_id = EXCLUDED.firebase_id, want = EXCLUDED.want "
    "WHERE (r.source_digest, r.firebase_id, r.want) IS DISTINCT FROM "
    "(EXCLUDED.source_digest, EXCLUDED.firebase_id, EXCLUDED.want)"
)
# A rejected document: its source digest, and no row.
RECORD_REJECTED = RECORD.format(
    path="d.path",
    digest="d.digest",
    firebase_id="NULL",
    want="NULL",
    source="unnest($2::text[], $3::text[]) d(path, digest)",
    conflict=RECORD_CONFLICT,
)


def _record(mapping: Mapping, columns: list[str], members_stage: str | None, conflict: str) -> str:
    """The upsert's ``src`` rows recorded with the digest of what they must become."""
    want = [f"src.{c}" for c in columns]
    if mapping.members and members_stage:
        want.append(
            f"ARRAY(SELECT ROW(x.id, x.position)::text FROM (SELECT DISTINCT ON (ms.member_id) "
            f"ms.member_id AS id, ms.position FROM {members_stage} ms "
            f"WHERE ms.owner = src.firebase_id AND ms.member_id IS NOT NULL "
            f"ORDER BY ms.member_id, ms.position) x ORDER BY x.position)"
        )
    return RECORD.format(
        path="src.source__path",
        digest="src.source__digest",
        firebase_id="src.firebase_id",
        want=_digest(want),
        source="src",
        conflict=conflict,
    )


def row_digest(mapping: Mapping, alias: str) -> str:
    """SQL: the digest of the table row ``alias``, comparable with the recorded ``want``.

    With membership rows it covers them too: (member id, position) in member order.
    """
    got = [f"{alias}.{c}" for c in expected_rows(mapping, "s", None)[0]]
    if mapping.members:
        m = mapping.members
        got.append(
            f"ARRAY(SELECT ROW(j.{m.member_column}, j.position)::text FROM {m.table} j "
            f"WHERE j.{m.owner_column} = {alias}.id AND j.position IS NOT NULL ORDER BY j.position)"
        )
    return _digest(got)


def _digest(values: list[str]) -> str:
    """SQL: a 64-bit hash of the values as 16 hex digits (verify sums them as a checksum). It hashes the
    values' binary form: 2x cheaper than an MD5 of the row's text at 600k contacts, paid by load and verify."""
    return f"lpad(to_hex(hash_record_extended(ROW({', '.join(values)}), 0)), 16, '0')"


def _unresolved_members(mapping: Spec | Generic, members_stage: str) -> str:
    """Ids in the member array whose document is missing: kept in extra, in their order, as typed values."""
    members = mapping.members
    assert members is not None
    return (
        f"COALESCE((SELECT jsonb_build_object('{members.names[0]}', jsonb_build_object('arrayValue', "
        f"jsonb_build_object('values', jsonb_agg(ms.raw ORDER BY ms.position)))) "
        f"FROM {members_stage} ms WHERE ms.owner = s.firebase_id AND ms.member_id IS NULL HAVING count(*) > 0), '{{}}')"
    )


def _sync_members(mapping: Mapping, stage: str, members_stage: str) -> tuple[str, ...]:
    """Make each loaded owner's membership rows exactly its resolvable member list."""
    m = mapping.members
    assert m is not None
    value_columns = list(m.values)
    values = [m.values[c] for c in value_columns]
    listed = f"SELECT 1 FROM {members_stage} ms WHERE ms.owner = o.firebase_id AND ms.member_id = j.{m.member_column}"
    guard = (
        f" WHERE ({', '.join(f'j.{c}' for c in value_columns)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in value_columns)})"
        if value_columns
        else ""
    )
    update = (
        f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in value_columns)}{guard}"
        if value_columns
        else "DO NOTHING"
    )
    return (
        f"DELETE FROM {members_stage} WHERE owner NOT IN (SELECT firebase_id FROM {stage})",
        f"DELETE FROM {m.table} j USING {mapping.table} o, {stage} s "
        # Rows without a position were added through the service, not by an import: they stay.
        f"WHERE o.firebase_id = s.firebase_id AND j.{m.owner_column} = o.id AND j.position IS NOT NULL "
        f"AND NOT {changed_by_service(mapping, 'o')} "
        f"AND NOT EXISTS ({listed})",
        f"INSERT INTO {m.table} AS j ({', '.join([m.owner_column, m.member_column, *value_columns])}) "
        f"SELECT DISTINCT ON (o.id, m.id) {', '.join(['o.id', 'm.id', *values])} "
        f"FROM {members_stage} ms JOIN {mapping.table} o ON o.firebase_id = ms.owner "
        "CROSS JOIN LATERAL (SELECT ms.member_id AS id) m WHERE ms.member_id IS NOT NULL "
        f"ORDER BY o.id, m.id, ms.position ON CONFLICT ({m.owner_column}, {m.member_column}) {update}",
    )


def _member_orphans(members_stage: str) -> str:
    return f"SELECT count(*) FROM {members_stage} WHERE member_id IS NULL"


def _resolve_members(mapping: Mapping, members_stage: str) -> tuple[str, ...]:
    """Each member id's row, found once per batch by one index probe each; every other statement reads
    ``member_id`` (joined to the target table instead, each hashed all of it for every batch)."""
    m = mapping.members
    assert m is not None
    return (
        f"UPDATE {members_stage} ms SET member_id = "
        f"(SELECT t.id FROM {m.target} t WHERE t.firebase_id = ms.member LIMIT 1)",
    )

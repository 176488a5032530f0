"""Export: the database back to Firestore documents and Auth users (the rollback path).

Rows go back to their original paths (``firebase_id``; rows the service created get
``<collection>/<uuid>``) with typed values: each mapped column under its spec's first field name, links
as the target document's id, membership rows as the id array, and ``extra`` on top, so unmapped fields,
orphaned links and values that did not fit a column come back as they were. Loading the export gives
the same rows again (a test shows it). Columns that had no source value (defaults, times the load
derived) are written out too, which is what makes that round trip exact.
"""

# ruff: noqa: S608 - every identifier in the SQL comes from the specs in code, never from data

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from etl.load.session import binary_jsonb
from etl.snapshot import AuthUser, Document, Manifest, Snapshot, SnapshotWriter
from etl.transform import SPECS, Spec
from etl.transform.engine import AUTH_KEY, CLAIMS_KEY, DOC_PATH_KEY, NULL
from etl.values import encode_python, fields_to_python, timestamp_from_datetime, to_python

Progress = Callable[[str, int, int | None], None]
PREFETCH = 2000


async def export_snapshot(db: asyncpg.Connection, out_dir: Path, progress: Progress | None = None) -> Manifest:
    """Write every imported table to a new snapshot directory (streamed, bounded memory)."""
    report = progress or (lambda *_: None)
    await binary_jsonb(db)
    with SnapshotWriter(out_dir, sources=["postgres-export"]) as writer:
        writer.read_time = timestamp_from_datetime(dt.datetime.now(dt.UTC))
        async with db.transaction(isolation="repeatable_read", readonly=True):
            for spec in SPECS:
                report(spec.name, 0, None)
                async for record in db.cursor(_select(spec), prefetch=PREFETCH):
                    document = to_document(spec, record)
                    writer.write_document(document, unit=spec.name, cursor=None)
                    # A profile that had no Auth user (a ghost) stays a profile; rows the service made get one.
                    if spec.uses_auth and (AUTH_KEY in record["extra"] or record["firebase_id"] is None):
                        writer.write_auth_user(to_auth_user(record, document), unit="auth", cursor=None)
                    report(spec.name, 1, None)
            report("other", 0, None)
            async for record in db.cursor(
                "SELECT firebase_id, fields, create_time, update_time FROM firestore_documents ORDER BY firebase_id",
                prefetch=PREFETCH,
            ):
                writer.write_document(
                    Document(
                        record["firebase_id"],
                        record["fields"],
                        _time(record["create_time"]),
                        _time(record["update_time"]),
                    ),
                    unit="other",
                    cursor=None,
                )
                report("other", 1, None)
        return writer.finish()


def _select(spec: Spec) -> str:
    """The spec's rows, with each link's target document id and the member ids (all by SQL joins)."""
    parts = ["SELECT t.*"]
    joins = []
    for ref in spec.refs:
        if ref.names:
            alias = f"r_{ref.column}"
            parts.append(f", COALESCE({alias}.firebase_id, {alias}.id::text) AS {ref.column}__target")
            joins.append(f"LEFT JOIN {ref.target} {alias} ON {alias}.id = t.{ref.column}")
    if spec.members:
        m = spec.members
        parts.append(
            f", ARRAY(SELECT COALESCE(mt.firebase_id, mt.id::text) FROM {m.table} j JOIN {m.target} mt "
            f"ON mt.id = j.{m.member_column} WHERE j.{m.owner_column} = t.id ORDER BY j.position NULLS LAST, 1) "
            "AS members__targets"
        )
    regex = "^" + spec.pattern.replace("*", "[^/]+") + "/[^/]+$"
    # Rows the service created have no path: they go to the table's root collection.
    native = " OR t.firebase_id IS NULL" if all(r.names for r in spec.refs) else ""
    return (
        f"{''.join(parts)} FROM {spec.table} t {' '.join(joins)} "
        f"WHERE (t.firebase_id ~ '{regex}'{native}) ORDER BY t.firebase_id NULLS LAST, t.id"
    )


def to_document(spec: Spec, record: asyncpg.Record) -> Document:
    fields: dict[str, Any] = {}
    for field in spec.fields:
        value = record[field.column]
        if field.names and value is not None:
            fields[field.names[0]] = encode_python(value)
    for ref in spec.refs:
        target = record[f"{ref.column}__target"] if ref.names else None
        if target is not None:
            fields[ref.names[0]] = {"stringValue": target.rsplit("/", 1)[-1]}
    extra = dict(record["extra"])
    if spec.members:
        fields[spec.members.names[0]] = _members(spec, record, extra)
    filled = {f.names[0] for f in spec.fields if f.names and record[f.column] not in (None, f.default)}
    for key, value in extra.items():
        if key in (DOC_PATH_KEY, CLAIMS_KEY, AUTH_KEY) or (value == NULL and key in filled):
            continue  # bookkeeping, or a null the user has since filled in
        restored = _raw_field(spec, record, key)
        fields[restored or key] = value
    path = record["firebase_id"] or f"{spec.pattern}/{record['id']}"
    if DOC_PATH_KEY in extra:
        path = to_python(extra[DOC_PATH_KEY]).value
    return Document(path, fields, _time(record.get("created_at")), _time(record.get("updated_at")))


def _members(spec: Spec, record: asyncpg.Record, extra: dict[str, Any]) -> dict[str, Any]:
    """Resolved members (by id), then the ids whose documents were missing, in their original order."""
    assert spec.members is not None
    ids = [{"stringValue": target.rsplit("/", 1)[-1]} for target in record["members__targets"]]
    missing = extra.pop(spec.members.names[0], None)
    ids += (missing or {}).get("arrayValue", {}).get("values", [])
    return {"arrayValue": {"values": ids}}


def _raw_field(spec: Spec, record: asyncpg.Record, key: str) -> str | None:
    """``phoneRaw`` goes back to ``phone`` when the column stayed empty (the value did not fit it)."""
    for field in spec.fields:
        if field.names and key == field.raw_key and record[field.column] in (None, field.default):
            return field.names[0]
    return None


def to_auth_user(record: asyncpg.Record, document: Document) -> AuthUser:
    extra = record["extra"]
    uid = (record["firebase_id"] or document.path).rsplit("/", 1)[-1]
    claims = fields_to_python(extra[CLAIMS_KEY]["mapValue"]["fields"]).value if CLAIMS_KEY in extra else None
    held = fields_to_python(extra[AUTH_KEY]["mapValue"]["fields"]).value if AUTH_KEY in extra else None
    had = set(held["fields"]) if held else {"phoneNumber", "photoUrl"}
    phone = record["phone"] if "phoneNumber" in had else None
    return AuthUser(
        uid=uid,
        email=record["email"],
        email_verified=record["email_verified"],
        disabled=record["disabled"],
        display_name=record["full_name"],
        phone_number=phone if phone and phone.startswith("+") else None,
        photo_url=record["profile_picture"] if "photoUrl" in had else None,
        providers=list(record["auth_providers"]),
        created_at=held["createdAt"] if held else _millis(record["created_at"]),
        last_signed_in_at=_millis(record["last_sign_in_at"]),
        password_hash=record["legacy_password_hash"],
        salt=record["legacy_password_salt"],
        custom_claims=claims,
    )


def _time(value: dt.datetime | None) -> str | None:
    return timestamp_from_datetime(value) if value is not None else None


def _millis(value: dt.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def push_snapshot(snapshot: Snapshot, hash_config: Any, project_id: str | None) -> tuple[int, list[tuple[str, str]]]:
    """Write an exported snapshot to live Firebase: documents in batches, then the Auth users."""
    from etl.push import push_auth_users, push_to_firestore
    from etl.sources.firebase_client import firestore_client

    written = push_to_firestore(snapshot.iter_documents(), firestore_client(project_id))
    result = push_auth_users(snapshot.iter_auth_users(), hash_config, project_id=project_id)
    return written, result.failures

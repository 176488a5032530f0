"""Joining ``users`` documents to Firebase Auth users without holding either side in memory.

Both are copied into temporary tables first (auth users whole; of the profiles only id and e-mail). A
profile takes the Auth user with its id as uid, else the one with its e-mail (when its id is nobody's
uid). Auth users no profile takes become users of their own, in snapshot order, after the profiles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import asyncpg
import msgspec

from etl.snapshot import AuthUser, Document, Snapshot
from etl.values import to_python

_decode_user = msgspec.json.Decoder(AuthUser).decode
_encode = msgspec.json.encode

CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS etl_auth (ord integer PRIMARY KEY, uid text UNIQUE, email text, record text)",
    "CREATE INDEX IF NOT EXISTS etl_auth_email ON etl_auth (email)",
    "CREATE TEMP TABLE IF NOT EXISTS etl_profiles (doc_id text, email text)",
    "TRUNCATE etl_auth, etl_profiles",
)
# Auth users no profile takes (mirrors ``lookup``), after a given position, in snapshot order.
UNCLAIMED_WHERE = """
NOT EXISTS (SELECT 1 FROM etl_profiles p WHERE p.doc_id = a.uid)
  AND NOT EXISTS (SELECT 1 FROM etl_profiles p WHERE p.email = a.email
                  AND NOT EXISTS (SELECT 1 FROM etl_auth o WHERE o.uid = p.doc_id))
"""
UNCLAIMED = f"SELECT ord, record FROM etl_auth a WHERE a.ord > $1 AND {UNCLAIMED_WHERE} ORDER BY ord LIMIT $2"  # noqa: S608
# In snapshot order, so of two Auth users with one e-mail the later wins, as in verify.
LOOKUP = "SELECT uid, email, record FROM etl_auth WHERE uid = ANY($1::text[]) OR email = ANY($2::text[]) ORDER BY ord"


async def prepare(connection: asyncpg.Connection, snapshot: Snapshot, profiles: Iterator[Document]) -> None:
    for statement in CREATE:
        await connection.execute(statement)
    users = (
        (i, u.uid, (u.email or "").lower() or None, _encode(u).decode())
        for i, u in enumerate(snapshot.iter_auth_users(), 1)
    )
    await _copy_in_chunks(connection, "etl_auth", ("ord", "uid", "email", "record"), users)
    keys = ((doc.id, profile_email(doc)) for doc in profiles)
    await _copy_in_chunks(connection, "etl_profiles", ("doc_id", "email"), keys)
    await connection.execute("ANALYZE etl_auth; ANALYZE etl_profiles")


async def _copy_in_chunks(connection: asyncpg.Connection, table: str, columns: tuple[str, ...], rows: Iterator) -> None:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == 10_000:
            await connection.copy_records_to_table(table, records=chunk, columns=columns)
            chunk = []
    if chunk:
        await connection.copy_records_to_table(table, records=chunk, columns=columns)


def profile_email(doc: Document) -> str | None:
    typed = doc.fields.get("email")
    value = to_python(typed).value if typed else None
    return value.strip().lower() if isinstance(value, str) else None


async def lookup(connection: asyncpg.Connection, docs: list[Document]) -> dict[str, AuthUser]:
    """The Auth user of each profile document of a batch, by document path."""
    emails = [profile_email(d) for d in docs]
    found = await connection.fetch(LOOKUP, [d.id for d in docs], [e for e in emails if e])
    by_uid = {r["uid"]: r["record"] for r in found}
    by_email = {r["email"]: r["record"] for r in found if r["email"]}
    out = {}
    for doc, address in zip(docs, emails, strict=True):
        record = by_uid.get(doc.id) or (by_email.get(address) if address else None)
        if record is not None:
            out[doc.path] = _decode_user(record)
    return out


async def unclaimed(connection: asyncpg.Connection, after: int, limit: int) -> list[tuple[int, AuthUser]]:
    rows = await connection.fetch(UNCLAIMED, after, limit)
    return [(r["ord"], _decode_user(r["record"])) for r in rows]


def profile_digest(line_digest: str, user: AuthUser | None) -> str:
    """A profile's source digest: its line's and, when it joins one, its Auth user's (as ``etl_auth.record``).

    Verify computes the same in SQL: ``md5(line_digest || coalesce(record, ''))``."""
    record = _encode(user) if user is not None else b""
    return hashlib.md5(line_digest.encode() + record, usedforsecurity=False).hexdigest()


def auth_digest(user: AuthUser) -> str:
    """An Auth user without a profile: the digest of its record (``md5(record)`` in SQL)."""
    return hashlib.md5(_encode(user), usedforsecurity=False).hexdigest()


def auth_document(user: AuthUser) -> Document:
    """An Auth user with no profile, as an empty profile document at ``users/<uid>``."""
    return Document(path=f"users/{user.uid}", fields={})

"""The rollback direction: write snapshot documents and Auth users back to Firebase.

Documents keep their original paths and typed values (``etl.values.to_firestore``) and go in
commit-based ``WriteBatch``es of at most 500 writes (the npm Firestore emulator has no BatchWrite,
and a commit is all-or-nothing per batch). ``set`` is idempotent, so a retried or repeated push
gives the same documents.

Users go through ``auth.import_users`` in chunks of 1000 with the project's Firebase SCRYPT
parameters, so their old passwords keep working. Limits: federated provider links are not
restored (the snapshot keeps provider ids, not the providers' user ids); users without a hash are
imported without a password.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import firebase_admin
import msgspec
import structlog
from firebase_admin import auth
from google.api_core import exceptions as gexc
from google.cloud import firestore

from etl.snapshot import AuthUser, Document
from etl.sources import firebase_client
from etl.sources.firestore_live import RetryPolicy, chunks, with_retry
from etl.values import fields_to_firestore

MAX_BATCH_WRITES = 500
MAX_IMPORT_USERS = 1000
JS_SAFE_INTEGER = 2**53 - 1
log = structlog.get_logger()


class PushRefused(RuntimeError):
    """The server refused a batch for a reason the message names; nothing of that batch was written."""


class HashParams(Protocol):
    """The project's Firebase SCRYPT parameters (``service.auth.firebase_hash.FirebaseHashConfig``)."""

    signer_key: bytes
    salt_separator: bytes
    rounds: int
    mem_cost: int


class PushAuthResult(msgspec.Struct, kw_only=True):
    imported: int = 0
    failures: list[tuple[str, str]] = []  # (uid, reason)


def push_to_firestore(
    documents: Iterable[Document],
    client: firestore.Client,
    batch_size: int = MAX_BATCH_WRITES,
    retry: RetryPolicy | None = None,
) -> int:
    """Write every document at its path with its typed fields; returns how many were written."""
    if not 1 <= batch_size <= MAX_BATCH_WRITES:
        raise ValueError(f"batch_size must be 1..{MAX_BATCH_WRITES}")
    written = 0
    for chunk in chunks(documents, batch_size):
        batch = client.batch()
        for doc in chunk:
            batch.set(client.document(doc.path), fields_to_firestore(doc.fields, client))
        try:
            with_retry(batch.commit, retry or RetryPolicy(), f"Commit {len(chunk)} documents")
        except gexc.GoogleAPICallError as exc:
            unsafe = next((found for doc in chunk for found in _unsafe_integers(doc.path, doc.fields)), None)
            if unsafe is None:
                raise
            raise PushRefused(
                f"the server refused a batch holding the integer {unsafe[1]} ({unsafe[0]}), past 2^53 "
                f"({type(exc).__name__}): the npm @firestore-emulator/server keeps numbers as JS doubles, "
                f"real Firestore stores int64. {written} documents were written before it, none of this batch; "
                "values are never changed to fit, so push to a server that stores int64"
            ) from None
        written += len(chunk)
        log.debug("push.documents", written=written)
    return written


def _unsafe_integers(where: str, fields: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(field path, value) of every integer a JavaScript number cannot hold exactly."""
    for name, typed in fields.items():
        if "integerValue" in typed and abs(int(typed["integerValue"])) > JS_SAFE_INTEGER:
            yield f"{where} {name}", int(typed["integerValue"])
        elif "mapValue" in typed:
            yield from _unsafe_integers(f"{where} {name}", typed["mapValue"].get("fields", {}))
        elif "arrayValue" in typed:
            values = typed["arrayValue"].get("values", [])
            yield from _unsafe_integers(f"{where} {name}", {f"[{i}]": v for i, v in enumerate(values)})


def push_auth_users(
    users: Iterable[AuthUser],
    hash_config: HashParams,
    *,
    app: firebase_admin.App | None = None,
    project_id: str | None = None,
    batch_size: int = MAX_IMPORT_USERS,
) -> PushAuthResult:
    """Import users with their Firebase scrypt hashes; per-user failures are returned, not raised."""
    hash_alg = auth.UserImportHash.scrypt(
        key=hash_config.signer_key,
        rounds=hash_config.rounds,
        memory_cost=hash_config.mem_cost,
        salt_separator=hash_config.salt_separator,
    )
    own_app = app is None
    app = app or firebase_client.admin_app(project_id)
    result = PushAuthResult()
    try:
        for chunk in chunks(users, min(batch_size, MAX_IMPORT_USERS)):
            outcome = auth.import_users([import_record(u) for u in chunk], hash_alg=hash_alg, app=app)
            result.imported += outcome.success_count
            result.failures += [(chunk[error.index].uid, error.reason) for error in outcome.errors]
    finally:
        if own_app:
            firebase_admin.delete_app(app)
    return result


def import_record(user: AuthUser) -> auth.ImportUserRecord:
    return auth.ImportUserRecord(
        uid=user.uid,
        email=user.email,
        email_verified=user.email_verified,
        display_name=user.display_name,
        phone_number=user.phone_number,
        photo_url=user.photo_url,
        disabled=user.disabled,
        user_metadata=auth.UserMetadata(user.created_at, user.last_signed_in_at),
        custom_claims=user.custom_claims,
        password_hash=base64.b64decode(user.password_hash) if user.password_hash else None,
        password_salt=base64.b64decode(user.salt) if user.salt else None,
    )

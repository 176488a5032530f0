"""Auth users through the Admin SDK: ``auth.list_users`` pages (at most 1000 users each).

The SDK gives hashes in URL-safe base64; they are normalised to standard base64. Without the
"Firebase Authentication Admin" role the API answers ``base64("REDACTED")`` instead of a hash (and
some SDK versions turn that into None): such users get ``hashRedacted=true`` and no hash.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import firebase_admin
import msgspec
from firebase_admin import auth

from etl.snapshot import AuthUser
from etl.sources.auth_common import claims, providers, standard_b64

MAX_PAGE_SIZE = 1000
REDACTED = base64.b64encode(b"REDACTED").decode("ascii")


class AdminCursor(msgspec.Struct, frozen=True):
    """Where to continue: fetch the page at ``page_token`` and skip its first ``skip`` users."""

    page_token: str | None = None
    skip: int = 0


def iter_admin_users(
    app: firebase_admin.App, *, page_size: int = MAX_PAGE_SIZE, start: AdminCursor | None = None
) -> Iterator[tuple[AuthUser, AdminCursor]]:
    """Every user, with the cursor that continues right after it."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
    token, skip = (start.page_token, start.skip) if start else (None, 0)
    while True:
        page = auth.list_users(page_token=token, max_results=page_size, app=app)
        for index, record in enumerate(page.users):
            if index >= skip:
                yield user_from_record(record), AdminCursor(token, index + 1)
        if not page.next_page_token:
            return
        token, skip = page.next_page_token, 0


def user_from_record(record: auth.ExportedUserRecord) -> AuthUser:
    listed = [info.provider_id for info in record.provider_data]
    raw_hash = record.password_hash
    redacted = raw_hash == REDACTED or (raw_hash is None and "password" in listed)
    password_hash = None if redacted else standard_b64(raw_hash, f"user {record.uid} password hash")
    salt = None if redacted else standard_b64(record.password_salt, f"user {record.uid} salt")
    return AuthUser(
        uid=record.uid,
        email=record.email,
        email_verified=bool(record.email_verified),
        disabled=bool(record.disabled),
        display_name=record.display_name,
        phone_number=record.phone_number,
        photo_url=record.photo_url,
        providers=providers(listed, has_hash=password_hash is not None, phone=record.phone_number),
        created_at=record.user_metadata.creation_timestamp,
        last_signed_in_at=record.user_metadata.last_sign_in_timestamp,
        password_hash=password_hash,
        salt=salt,
        custom_claims=claims(record.custom_claims, f"user {record.uid}"),
        hash_redacted=redacted,
    )

"""SQL for credentials, sessions, refresh tokens and password-reset tokens.

Refresh and reset tokens are random values handed out once; only their SHA-256 is stored, so a database leak
yields nothing usable.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from service.auth.passwords import StoredPassword
from service.auth.revocation import announce
from service.auth.schemas import SessionOut
from service.db.models.base import uuid7


@dataclass(frozen=True, slots=True)
class Credentials:
    id: uuid.UUID
    email: str
    role: str
    disabled: bool
    stored: StoredPassword


@dataclass(frozen=True, slots=True)
class RefreshState:
    """A presented refresh token, locked with its session until the transaction ends."""

    token_id: uuid.UUID
    session_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    used: bool
    # Token and session unexpired, session not revoked, user not disabled.
    usable: bool


CREDENTIALS = """
SELECT id, email, role, disabled, password_hash, legacy_password_hash, legacy_password_salt FROM users
"""

OPEN_SESSION = """
WITH session AS (
    INSERT INTO auth_sessions (id, user_id, expires_at, last_used_at, user_agent, ip_address)
    VALUES ($1, $2, now() + make_interval(secs => $3), now(), $4, $5)
    RETURNING id, expires_at
)
INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)
SELECT $6, session.id, $7, session.expires_at FROM session
"""

# Both rows locked: a revocation committed meanwhile waits for this rotation, then lands after it (and its NOTIFY
# covers the access token issued here); one committed before is seen here.
LOCK_REFRESH_ROW = """
SELECT rt.id, s.id, s.user_id, u.role, rt.used_at IS NOT NULL,
       rt.expires_at > now() AND s.expires_at > now() AND s.revoked_at IS NULL AND NOT u.disabled
FROM refresh_tokens rt
JOIN auth_sessions s ON s.id = rt.session_id
JOIN users u ON u.id = s.user_id
WHERE rt.token_hash = $1
FOR UPDATE OF rt, s
"""

# Sliding sessions: each rotation extends the session (and its new token) by the refresh lifetime.
ROTATE = """
WITH spent AS (
    UPDATE refresh_tokens SET used_at = now() WHERE id = $1
), session AS (
    UPDATE auth_sessions
    SET last_used_at = now(), expires_at = now() + make_interval(secs => $3), user_agent = $4, ip_address = $5
    WHERE id = $2
    RETURNING id, expires_at
)
INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)
SELECT $6, session.id, $7, session.expires_at FROM session
"""

REVOKE = """
UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id = $3) AND ($4::uuid IS NULL OR id <> $4)
RETURNING id
"""

ACTIVE_SESSIONS = """
SELECT id, created_at, last_used_at, expires_at, user_agent, ip_address, id = $2 AS current
FROM auth_sessions
WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
ORDER BY created_at DESC
"""

SET_NEW_HASH = """
UPDATE users
SET password_hash = $2, password_changed_at = now(), legacy_password_hash = NULL, legacy_password_salt = NULL,
    password_reset_required = false, updated_at = now(),
    auth_providers = CASE WHEN 'password' = ANY(auth_providers) THEN auth_providers
                          ELSE array_append(auth_providers, 'password') END
WHERE id = $1
"""

# Same password, better hash: skipped if the password changed since the old hash was read.
UPGRADE_HASH = """
UPDATE users
SET password_hash = $2, legacy_password_hash = NULL, legacy_password_salt = NULL, updated_at = now()
WHERE id = $1 AND password_hash IS NOT DISTINCT FROM $3 AND legacy_password_hash IS NOT DISTINCT FROM $4
"""

DELETE_EXPIRED = """
DELETE FROM password_reset_tokens WHERE expires_at < now();
DELETE FROM refresh_tokens WHERE expires_at < now();
"""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _credentials(row: asyncpg.Record | None) -> Credentials | None:
    if row is None:
        return None
    return Credentials(row[0], row[1], row[2], row[3], StoredPassword(row[4], row[5], row[6]))


async def credentials_by_email(connection: asyncpg.Connection, email: str) -> Credentials | None:
    return _credentials(await connection.fetchrow(CREDENTIALS + "WHERE email = $1", email))


async def credentials_by_id(connection: asyncpg.Connection, user_id: uuid.UUID) -> Credentials | None:
    return _credentials(await connection.fetchrow(CREDENTIALS + "WHERE id = $1", user_id))


async def upgrade_password_hash(connection: asyncpg.Connection, user: Credentials, new_hash: str) -> None:
    """Replace a legacy Firebase or outdated argon2id hash of the same password (clearing the legacy fields)."""
    await connection.execute(
        UPGRADE_HASH,
        user.id,
        new_hash,
        user.stored.password_hash,
        user.stored.legacy_hash,
    )


async def set_password(connection: asyncpg.Connection, user_id: uuid.UUID, new_hash: str) -> None:
    await connection.execute(SET_NEW_HASH, user_id, new_hash)


async def open_session(
    connection: asyncpg.Connection, user_id: uuid.UUID, lifetime: int, user_agent: str | None, ip: str
) -> tuple[uuid.UUID, str]:
    """A new session with its first refresh token; returns (session id, refresh token)."""
    session_id, refresh_token = uuid7(), new_secret()
    await connection.execute(
        OPEN_SESSION, session_id, user_id, lifetime, user_agent, ip, uuid7(), digest(refresh_token)
    )
    return session_id, refresh_token


async def lock_refresh_token(connection: asyncpg.Connection, refresh_token: str) -> RefreshState | None:
    row = await connection.fetchrow(LOCK_REFRESH_ROW, digest(refresh_token))
    return RefreshState(*row) if row else None


async def rotate(
    connection: asyncpg.Connection, state: RefreshState, lifetime: int, user_agent: str | None, ip: str
) -> str:
    """Spend the presented token and hand out its successor in the same session."""
    refresh_token = new_secret()
    await connection.execute(
        ROTATE, state.token_id, state.session_id, lifetime, user_agent, ip, uuid7(), digest(refresh_token)
    )
    return refresh_token


async def session_of_refresh_token(
    connection: asyncpg.Connection, refresh_token: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(session id, user id) of a refresh token, spent or not."""
    row = await connection.fetchrow(
        "SELECT s.id, s.user_id FROM refresh_tokens rt JOIN auth_sessions s ON s.id = rt.session_id"
        " WHERE rt.token_hash = $1",
        digest(refresh_token),
    )
    return (row[0], row[1]) if row else None


async def revoke_sessions(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    reason: str,
    *,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke the user's live sessions (just `only`, or all but `keep`) and tell every instance on commit.

    The caller must add the returned ids to its RevokedSessions after the transaction commits.
    """
    session_ids = [row[0] for row in await connection.fetch(REVOKE, user_id, reason, only, keep)]
    await announce(connection, session_ids)
    return session_ids


async def active_sessions(connection: asyncpg.Connection, user_id: uuid.UUID, current: uuid.UUID) -> list[SessionOut]:
    return [SessionOut(*row) for row in await connection.fetch(ACTIVE_SESSIONS, user_id, current)]


async def create_reset_token(connection: asyncpg.Connection, user_id: uuid.UUID, lifetime: int) -> str:
    """A new single-use reset token; earlier unused ones stop working, so only the latest mail's link does."""
    token = new_secret()
    await connection.execute("DELETE FROM password_reset_tokens WHERE user_id = $1", user_id)
    await connection.execute(
        "INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at)"
        " VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        uuid7(),
        user_id,
        digest(token),
        lifetime,
    )
    return token


async def reset_token_is_live(connection: asyncpg.Connection, token: str) -> bool:
    return bool(
        await connection.fetchval(
            "SELECT 1 FROM password_reset_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
            digest(token),
        )
    )


async def spend_reset_token(connection: asyncpg.Connection, token: str) -> uuid.UUID | None:
    """The token's user, once: a second spend (or a spend racing this one) gets None."""
    user_id: uuid.UUID | None = await connection.fetchval(
        "UPDATE password_reset_tokens SET used_at = now()"
        " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        digest(token),
    )
    return user_id


async def delete_expired(connection: asyncpg.Connection) -> None:
    await connection.execute(DELETE_EXPIRED)

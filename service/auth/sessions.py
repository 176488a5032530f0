"""Access tokens past their 15 minutes stay usable while their session lives (the SPA never refreshes).

The SPA keeps the token from login in localStorage and sends it for as long as the tab is open; its cookie-based
calls send the access cookie, which lives as long as the session. So an expired access token is not refused
outright: its signature is still checked (nobody else can make one), then its session is looked up in the
database. A live session (not revoked, not expired, its account not disabled) accepts it and slides forward by
REFRESH_TOKEN_TTL_SECONDS, so a user who keeps working is never logged out; an idle session ends on its own.

The answer is remembered per session for RECHECK_SECONDS, so a busy user costs one UPDATE a minute per instance,
not one per request. Revocation stays immediate: the revoked-session set is checked on every request before this
cache, and it holds every session revoked within the access-token lifetime plus a minute, which is longer than
RECHECK_SECONDS. A session revoked after its last check is therefore in the set; one revoked before it was
refused by the check itself.
"""

from __future__ import annotations

import time
import uuid

import asyncpg

# Must stay below RevokedSessions.horizon (the access-token lifetime, at least 30 s, plus 60 s of slack).
RECHECK_SECONDS = 60.0
MAX_REMEMBERED = 10_000

# One statement: the session is live, and then it slides. The role comes fresh from the account.
TOUCH_LIVE_SESSION = """
UPDATE auth_sessions s
SET last_used_at = now(), expires_at = greatest(s.expires_at, now() + make_interval(secs => $3))
FROM users u
WHERE s.id = $1 AND s.user_id = $2 AND u.id = s.user_id
  AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled
RETURNING u.role
"""


class LiveSessions:
    """session id -> the account's current role, for sessions found live within the last RECHECK_SECONDS."""

    def __init__(self, pool: asyncpg.Pool, session_ttl_seconds: int) -> None:
        self.pool = pool
        self.session_ttl_seconds = session_ttl_seconds
        self._checked: dict[uuid.UUID, tuple[float, str]] = {}

    async def role_if_live(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str | None:
        """The account's role when the session is live (and slid forward), else None."""
        hit = self._checked.get(session_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < RECHECK_SECONDS:
            return hit[1]
        async with self.pool.acquire() as connection:
            role: str | None = await connection.fetchval(
                TOUCH_LIVE_SESSION, session_id, user_id, self.session_ttl_seconds
            )
        if role is None:
            self._checked.pop(session_id, None)
            return None
        if len(self._checked) >= MAX_REMEMBERED:
            del self._checked[next(iter(self._checked))]  # the oldest goes; it is simply checked again
        self._checked[session_id] = (now, role)
        return role


CURRENT_ROLE = "SELECT role FROM users WHERE id = $1 AND NOT disabled"


class CurrentRoles:
    """The account's role now. A token's role claim is what it was at login; a demotion (or a promotion) must
    count at once, like a revocation, so requests that depend on the administrator role read it here: one
    primary-key lookup, paid only by administrators' requests and by the admin routes."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def of(self, user_id: uuid.UUID) -> str | None:
        """None when the account is gone or disabled."""
        async with self.pool.acquire() as connection:
            role: str | None = await connection.fetchval(CURRENT_ROLE, user_id)
        return role

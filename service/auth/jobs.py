"""Auth housekeeping, once per cluster: expired tokens, spent throttle windows, long-revoked sessions."""

from __future__ import annotations

from datetime import timedelta

from service.auth import repository
from service.auth.throttle import Throttle
from service.jobs import JobContext, periodic

# Far past the access-token lifetime (the revocation list needs sessions revoked within it), and long enough to
# answer "was this session ended, and why?" for a week.
ENDED_SESSION_RETENTION = timedelta(days=7)

PURGE_ENDED_SESSIONS = """
DELETE FROM auth_sessions
WHERE (revoked_at IS NOT NULL AND revoked_at < now() - $1::interval) OR expires_at < now() - $1::interval
"""


@periodic("auth.housekeeping", cron="*/5 * * * *")
async def housekeeping(ctx: JobContext) -> None:
    async with ctx.pool.acquire() as connection, connection.transaction():
        await repository.delete_expired(connection)
        await Throttle.delete_expired(connection)
        await connection.execute(PURGE_ENDED_SESSIONS, ENDED_SESSION_RETENTION)

"""Revoked sessions, checked on every request without a database query.

An access token names its session (`sid`). Revoking a session must end its access tokens at once, yet a query per
request would cost a round trip on the hot path. Only sessions revoked within the last access-token lifetime can
still have live tokens (a revoked session never gets a new one), so that short list is held in memory:

- loaded at start-up, before the first request;
- updated in-process right after a revocation commits;
- updated across instances by NOTIFY, sent in the revoking transaction (delivered on commit), received on a
  dedicated, supervised LISTEN connection that reconnects (litestar's channels listener does not);
- re-read from the table on every (re)connect and every RESYNC_SECONDS, which covers notifications missed while
  the connection was down.

Revocation is permanent, so merging what the table says with what is held is always correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterable

import asyncpg
import structlog

log = structlog.get_logger()

CHANNEL = "ri_sessions_revoked"
APPLICATION_NAME = "reachimpact-revocations"
RESYNC_SECONDS = 30.0
START_TIMEOUT_SECONDS = 30.0
QUERY_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
# Clocks of instances and of the database differ a little; keep entries a bit past the token lifetime.
CLOCK_SLACK_SECONDS = 60
# NOTIFY payloads are limited to 8000 bytes: 36-character ids, comma-separated, 200 per message.
IDS_PER_NOTIFY = 200

RECENTLY_REVOKED = """
SELECT id, extract(epoch FROM revoked_at)::float8 FROM auth_sessions
WHERE revoked_at > now() - make_interval(secs => $1)
"""


class RevokedSessions:
    """Session ids revoked recently enough that tokens naming them may not have expired yet."""

    def __init__(self, access_token_ttl_seconds: int) -> None:
        self.horizon = access_token_ttl_seconds + CLOCK_SLACK_SECONDS
        self._revoked_at: dict[uuid.UUID, float] = {}

    def __contains__(self, session_id: uuid.UUID) -> bool:
        return session_id in self._revoked_at

    def __len__(self) -> int:
        return len(self._revoked_at)

    def add(self, session_ids: Iterable[uuid.UUID], revoked_at: float | None = None) -> None:
        when = time.time() if revoked_at is None else revoked_at
        for session_id in session_ids:
            self._revoked_at.setdefault(session_id, when)

    def forget_expired(self) -> None:
        cutoff = time.time() - self.horizon
        self._revoked_at = {sid: at for sid, at in self._revoked_at.items() if at > cutoff}

    async def load(self, connection: asyncpg.Connection) -> None:
        rows = await connection.fetch(RECENTLY_REVOKED, self.horizon, timeout=QUERY_TIMEOUT_SECONDS)
        for session_id, revoked_at in rows:
            self._revoked_at.setdefault(session_id, revoked_at)
        self.forget_expired()


async def announce(connection: asyncpg.Connection, session_ids: list[uuid.UUID]) -> None:
    """Tell every instance; call inside the revoking transaction so the notice goes out only if it commits."""
    for start in range(0, len(session_ids), IDS_PER_NOTIFY):
        payload = ",".join(str(sid) for sid in session_ids[start : start + IDS_PER_NOTIFY])
        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


class RevocationFeed:
    """The supervised LISTEN connection that keeps a RevokedSessions in step with the other instances."""

    def __init__(self, dsn: str, revoked: RevokedSessions) -> None:
        self.dsn = dsn
        self.revoked = revoked
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._failures = 0

    async def start(self) -> None:
        """Start listening; return once the list is loaded, so no request is served with an empty one."""
        self._task = asyncio.create_task(self._supervise(), name="revocation-feed")
        try:
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                await self._synced.wait()
        except TimeoutError:
            await self.stop()
            raise RuntimeError("could not load the revoked sessions from the database") from None

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _supervise(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("revocation feed lost its database connection; reconnecting", error=str(exc))
            # Back off while the database stays away; a connection that synced starts the sequence again.
            await asyncio.sleep(RECONNECT_DELAYS[min(self._failures, len(RECONNECT_DELAYS) - 1)])
            self._failures += 1

    async def _listen(self) -> None:
        connection = await asyncpg.connect(
            self.dsn, timeout=QUERY_TIMEOUT_SECONDS, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._on_notice)
            while not lost.is_set():
                # Also the liveness probe: a silently dead connection fails this query within the timeout.
                await self.revoked.load(connection)
                self._synced.set()
                self._failures = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), RESYNC_SECONDS)
            raise ConnectionResetError("LISTEN connection closed")
        finally:
            connection.terminate()

    def _on_notice(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            session_ids = [uuid.UUID(part) for part in payload.split(",")]
        except ValueError:
            log.warning("ignored a malformed revocation notice", payload=payload[:100])
            return
        self.revoked.add(session_ids)

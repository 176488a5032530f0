"""Revoked sessions, checked on every request without a database query.

An access token names its session (`sid`). Revoking a session must end its access tokens at once, yet a query per
request would cost a round trip on the hot path. Only sessions revoked within the last access-token lifetime can
still have live tokens (a revoked session never gets a new one), so that short list is held in memory:

- loaded at start-up, before the first request;
- updated in-process right after a revocation commits;
- updated across instances by NOTIFY, sent in the revoking transaction (delivered on commit), received on the
  process's one supervised LISTEN connection (service/realtime/listener.py);
- re-read from the table on every (re)connect of that connection and every 30 seconds, which covers
  notifications missed while it was down.

Whoever holds something open for a session (an event stream) registers `on_revoke` to end it at once.

Revocation is permanent, so merging what the table says with what is held is always correct.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

import asyncpg
import structlog

log = structlog.get_logger()

CHANNEL = "ri_sessions_revoked"
QUERY_TIMEOUT_SECONDS = 5.0
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
        self.on_revoke: list[Callable[[list[uuid.UUID]], None]] = []

    def __contains__(self, session_id: uuid.UUID) -> bool:
        return session_id in self._revoked_at

    def __len__(self) -> int:
        return len(self._revoked_at)

    def add(self, session_ids: Iterable[uuid.UUID], revoked_at: float | None = None) -> None:
        when = time.time() if revoked_at is None else revoked_at
        news = [sid for sid in session_ids if sid not in self._revoked_at]
        for session_id in news:
            self._revoked_at[session_id] = when
        if news:
            for callback in self.on_revoke:
                callback(news)

    def forget_expired(self) -> None:
        cutoff = time.time() - self.horizon
        self._revoked_at = {sid: at for sid, at in self._revoked_at.items() if at > cutoff}

    async def load(self, connection: asyncpg.Connection) -> None:
        rows = await connection.fetch(RECENTLY_REVOKED, self.horizon, timeout=QUERY_TIMEOUT_SECONDS)
        for session_id, revoked_at in rows:
            self.add([session_id], revoked_at)
        self.forget_expired()

    def on_notice(self, payload: str) -> None:
        """A NOTIFY from the revoking instance (its listener subscription)."""
        try:
            session_ids = [uuid.UUID(part) for part in payload.split(",")]
        except ValueError:
            log.warning("ignored a malformed revocation notice", payload=payload[:100])
            return
        self.add(session_ids)


async def announce(connection: asyncpg.Connection, session_ids: list[uuid.UUID]) -> None:
    """Tell every instance; call inside the revoking transaction so the notice goes out only if it commits."""
    for start in range(0, len(session_ids), IDS_PER_NOTIFY):
        payload = ",".join(str(sid) for sid in session_ids[start : start + IDS_PER_NOTIFY])
        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

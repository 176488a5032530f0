"""Delivery of events to the connected browsers of this process.

The hub follows the events table: a NOTIFY on `ri_events` (or a reconnect of the LISTEN connection) wakes it,
it reads every row after the last id it has seen, in id order (commit order, see events.py), and hands each
event to the open streams of the users in its audience. Reading the table rather than trusting the notices
means a notice lost while the connection was down costs nothing: the next read picks the rows up.

A stream resumes from the id its client last saw (`replay`): it registers first, then reads what it missed,
then skips anything it already sent, so there are no gaps and no duplicates. Each stream has a bounded queue; a
client that does not keep up is cut off (it reconnects and resumes) instead of buffering without bound. A
stream ends as soon as its session is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import msgspec
import structlog

from service.db.pool import DATABASE_TROUBLE
from service.realtime.events import CHANNEL, RETENTION
from service.realtime.listener import Listener

log = structlog.get_logger()

MAX_QUEUED_EVENTS = 256
FETCH_BATCH = 500
HEARTBEAT_SECONDS = 15.0

# data::text: the JSON as PostgreSQL wrote it, passed through without decoding (jsonb text has no raw newlines).
NEW_EVENTS = "SELECT id, audience, type, data::text FROM events WHERE id > $1 ORDER BY id LIMIT $2"
MISSED_EVENTS = """
SELECT id, audience, type, data::text FROM events
WHERE id > $1 AND $2 = ANY(audience) AND created_at > now() - $3::interval ORDER BY id LIMIT $4
"""
# The oldest id still kept and the last id handed out: a resume point outside them cannot be replayed exactly.
KEPT_RANGE = """
SELECT (SELECT min(id) FROM events WHERE created_at > now() - $1::interval),
       coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'id')), 0)
"""


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    audience: list[uuid.UUID]
    type: str
    data: str  # JSON text

    def sse(self) -> bytes:
        return f"id: {self.id}\nevent: {self.type}\ndata: {self.data}\n\n".encode()

    def json(self) -> str:
        return f'{{"id":{self.id},"type":{msgspec.json.encode(self.type).decode()},"data":{self.data}}}'


class StreamClosed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Subscriber:
    """One open stream: the events queued for it, and why it was closed, if it was."""

    def __init__(self, user_id: uuid.UUID, session_id: uuid.UUID, max_queued: int) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self.last_sent = 0
        self.closed: str | None = None
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(max_queued)

    def deliver(self, event: Event) -> None:
        if self.closed is None:
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                self.close("slow_consumer")

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            while not self._queue.empty():  # drop what it could not take; it resumes from the table
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def next(self, wait_seconds: float) -> Event | None:
        """The next event not yet sent; None after `wait_seconds` (time for a heartbeat). StreamClosed once closed."""
        while True:
            try:
                event = await asyncio.wait_for(self._queue.get(), wait_seconds)
            except TimeoutError:
                return None
            if event is None:
                raise StreamClosed(self.closed or "closed")
            if event.id > self.last_sent:
                self.last_sent = event.id
                return event


@dataclass(frozen=True, slots=True)
class Replay:
    events: list[Event]
    reload: bool  # the resume point is outside what is kept: the client must refetch its state


class EventHub:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_queued: int = MAX_QUEUED_EVENTS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.pool = pool
        self.max_queued = max_queued
        self.heartbeat_seconds = heartbeat_seconds
        self.last_seen: int | None = None
        self._by_user: dict[uuid.UUID, set[Subscriber]] = {}
        self._by_session: dict[uuid.UUID, set[Subscriber]] = {}
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    def attach(self, listener: Listener) -> None:
        listener.subscribe(CHANNEL, self._on_notice, on_connect=self._on_connect)

    def start(self) -> None:
        self._pump = asyncio.create_task(self._follow(), name="realtime-hub")

    async def stop(self) -> None:
        for subscribers in list(self._by_user.values()):
            for subscriber in list(subscribers):
                subscriber.close("shutdown")
        if self._pump:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    @contextlib.contextmanager
    def subscription(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Iterator[Subscriber]:
        subscriber = Subscriber(user_id, session_id, self.max_queued)
        self._by_user.setdefault(user_id, set()).add(subscriber)
        self._by_session.setdefault(session_id, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            _discard(self._by_user, user_id, subscriber)
            _discard(self._by_session, session_id, subscriber)

    def end_sessions(self, session_ids: list[uuid.UUID]) -> None:
        for session_id in session_ids:
            for subscriber in list(self._by_session.get(session_id, ())):
                subscriber.close("session_revoked")

    @property
    def connected(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    async def replay(self, subscriber: Subscriber, after_id: int) -> Replay:
        """What `subscriber`'s user missed after `after_id`, in order; call after registering it."""
        async with self.pool.acquire() as conn:
            oldest, newest = await conn.fetchrow(KEPT_RANGE, RETENTION)
            purged = after_id < (newest if oldest is None else oldest - 1)
            if after_id > newest or purged:
                return Replay([], reload=True)
            rows = await conn.fetch(MISSED_EVENTS, after_id, subscriber.user_id, RETENTION, self.max_queued + 1)
        if len(rows) > self.max_queued:
            return Replay([], reload=True)
        events = [Event(*row) for row in rows]
        # Events committed while this read ran are in the queue too: what is replayed now counts as sent.
        subscriber.last_sent = events[-1].id if events else after_id
        return Replay(events, reload=False)

    def _on_notice(self, _payload: str) -> None:
        self._wake.set()

    async def _on_connect(self, connection: asyncpg.Connection) -> None:
        if self.last_seen is None:  # first connect: live from here on, the past is served by replay()
            self.last_seen = await connection.fetchval("SELECT coalesce(max(id), 0) FROM events")
        self._wake.set()  # after a reconnect: read whatever was committed while nobody listened

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._read_new()
            except DATABASE_TROUBLE as exc:
                log.warning("could not read new events; retrying", error=str(exc))
                await asyncio.sleep(0.5)
                self._wake.set()

    async def _read_new(self) -> None:
        if self.last_seen is None:
            return
        while True:
            rows = await self.pool.fetch(NEW_EVENTS, self.last_seen, FETCH_BATCH)
            for row in rows:
                event = Event(*row)
                self.last_seen = event.id
                for user_id in event.audience:
                    for subscriber in self._by_user.get(user_id, ()):
                        subscriber.deliver(event)
            if len(rows) < FETCH_BATCH:
                return


def _discard(index: dict[uuid.UUID, set[Subscriber]], key: uuid.UUID, subscriber: Subscriber) -> None:
    subscribers = index.get(key)
    if subscribers is not None:
        subscribers.discard(subscriber)
        if not subscribers:
            del index[key]

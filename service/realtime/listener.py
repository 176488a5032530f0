"""One supervised LISTEN connection per process, shared by every feature that needs NOTIFYs.

LISTEN needs session state, so it cannot run on a pooled connection (service/db/pool.py), and a connection
per feature would multiply idle backends. Features register `subscribe(channel, handler, on_connect=...)` before
the app starts; the listener then:

- connects, LISTENs on every channel, then runs every `on_connect(connection)`: the subscriber's catch-up (re-read
  what it may have missed while no connection listened). LISTEN comes first, so nothing falls between the two;
- runs the `on_connect`s again every RESYNC_SECONDS, which doubles as the liveness probe of a silently dead
  connection (the query times out);
- reconnects with backoff when the connection is lost (litestar's channels listener does not).

Handlers run in the event loop on each notice; they must be quick and must not await (schedule a task instead).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog

from service.db.pool import DATABASE_TROUBLE

log = structlog.get_logger()

APPLICATION_NAME = "reachimpact-listener"
RESYNC_SECONDS = 30.0
START_TIMEOUT_SECONDS = 30.0
QUERY_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)

NoticeHandler = Callable[[str], None]
CatchUp = Callable[[asyncpg.Connection], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    channel: str
    handler: NoticeHandler
    on_connect: CatchUp | None


class Listener:
    def __init__(self, dsn: str, *, resync_seconds: float = RESYNC_SECONDS) -> None:
        self.dsn = dsn
        self.resync_seconds = resync_seconds
        self._subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._failures = 0
        self.connects = 0  # how many times it has (re)connected; for /ready and tests

    def subscribe(self, channel: str, handler: NoticeHandler, *, on_connect: CatchUp | None = None) -> None:
        """`handler(payload)` for every NOTIFY on `channel`; `on_connect(connection)` after every (re)connect."""
        if self._task is not None:
            raise RuntimeError("subscribe() before the listener starts (in a lifespan that runs before it)")
        self._subscriptions.append(Subscription(channel, handler, on_connect))

    async def start(self) -> None:
        """Start listening; return once every subscriber has caught up, so no request sees stale state."""
        self._task = asyncio.create_task(self._supervise(), name="realtime-listener")
        try:
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                await self._synced.wait()
        except TimeoutError:
            await self.stop()
            raise RuntimeError("the LISTEN connection could not reach the database") from None

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _supervise(self) -> None:
        while True:
            try:
                await self._listen()
            except DATABASE_TROUBLE as exc:
                log.warning("LISTEN connection lost; reconnecting", error=str(exc))
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
            for subscription in self._subscriptions:
                await connection.add_listener(subscription.channel, _call(subscription.handler))
            self.connects += 1
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that lands as the awaited
            # thing finishes, and stop() then waited forever for a listener that went on resyncing.
            while not lost.is_set():
                for subscription in self._subscriptions:
                    if subscription.on_connect is not None:
                        async with asyncio.timeout(QUERY_TIMEOUT_SECONDS):
                            await subscription.on_connect(connection)
                self._synced.set()
                self._failures = 0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.resync_seconds):
                        await lost.wait()
            raise ConnectionResetError("LISTEN connection closed")
        finally:
            connection.terminate()


def _call(handler: NoticeHandler) -> Callable[[object, int, str, str], None]:
    def on_notice(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            handler(payload)
        except Exception:  # one subscriber's bug must not silence the others
            log.exception("a NOTIFY handler failed", channel=_channel)

    return on_notice

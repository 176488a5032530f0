"""The realtime lifespans: the listener and hub are built after the pool, and the listener starts last.

`realtime_runtime` creates app.state.realtime (the process's Listener) and app.state.events (the EventHub), so
lifespans that follow can subscribe; `listening` starts the connection once they all have, and stops it first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from service.realtime.hub import EventHub
from service.realtime.listener import Listener


@asynccontextmanager
async def realtime_runtime(app: Litestar) -> AsyncIterator[None]:
    app.state.realtime = Listener(app.state.dsn)
    settings = app.state.settings
    app.state.events = EventHub(
        app.state.pool,
        max_queued=settings.events_max_queued,
        heartbeat_seconds=settings.events_heartbeat_seconds,
    )
    app.state.events.attach(app.state.realtime)
    app.state.events.start()
    try:
        yield
    finally:
        await app.state.events.stop()


@asynccontextmanager
async def listening(app: Litestar) -> AsyncIterator[None]:
    await app.state.realtime.start()
    try:
        yield
    finally:
        await app.state.realtime.stop()

"""The browsers' event streams: SSE at GET /api/events and a WebSocket at /api/events/ws (docs/platform.md).

Both are authenticated like the rest of the API (bearer or access cookie). A cookie travels with any request the
browser makes, even one started by another site, so a cookie-authenticated stream must come from a trusted page
(the same rule as cookie writes, service/auth/csrf.py): events are private data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Request, Router, WebSocket, get, websocket
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Stream

from service.auth.middleware import AuthUser, credentials
from service.errors import Forbidden, ValidationFailed
from service.realtime.hub import Event, EventHub, StreamClosed, Subscriber
from service.web.decoding import whole_number
from service.web.openapi import documented, text

# EventSource waits this long before reconnecting after the stream ends.
RETRY_MS = 2000
# WebSocket close codes: 1008 policy (session revoked), 1013 try again later (cut off as too slow), 1001 going away.
CLOSE_CODES = {"session_revoked": 1008, "slow_consumer": 1013, "shutdown": 1001}


def resume_point(header: str | None, query: str | None) -> int | None:
    raw = header or query
    if raw is None or raw == "":
        return None
    event_id = whole_number(raw)
    if event_id is None:
        raise ValidationFailed.field(
            "lastEventId", "expected a whole number", message="Last-Event-ID must be the id of an event"
        )
    return event_id


def require_trusted_page(scope: dict) -> None:  # type: ignore[type-arg]
    _, from_cookie = credentials(scope)  # type: ignore[arg-type]
    origins = scope["litestar_app"].state.authenticator.origins
    if from_cookie and not origins.allow(scope["headers"]):
        raise Forbidden("Event streams authenticated by cookie must come from the app's own page", code="csrf_failed")


async def _opening(hub: EventHub, subscriber: Subscriber, after_id: int | None) -> list[Event] | None:
    """The missed events to send first; None when the client must reload its state instead."""
    if after_id is None:
        return []
    replay = await hub.replay(subscriber, after_id)
    return None if replay.reload else replay.events


@documented(returns=text(), media_type="text/event-stream")
@get("/events", summary="Server-sent events for the caller (Last-Event-ID resumes)", tags=["realtime"])
async def events_sse(
    request: Request[AuthUser, object, State],
    last_event_id: Annotated[str | None, QueryParameter(name="lastEventId")] = None,
) -> Stream:
    require_trusted_page(request.scope)  # type: ignore[arg-type]
    after_id = resume_point(request.headers.get("last-event-id"), last_event_id)
    hub: EventHub = request.app.state.events
    user = request.user

    async def frames() -> AsyncIterator[bytes]:
        with hub.subscription(user.id, user.session_id) as subscriber:
            yield f"retry: {RETRY_MS}\n\n".encode()
            opening = await _opening(hub, subscriber, after_id)
            if opening is None:
                yield b"event: reload\ndata: {}\n\n"
            for event in opening or ():
                yield event.sse()
            while True:
                try:
                    next_event = await subscriber.next(hub.heartbeat_seconds)
                except StreamClosed as closed:
                    yield f'event: closed\ndata: {{"reason":"{closed.reason}"}}\n\n'.encode()
                    return
                yield next_event.sse() if next_event else b": heartbeat\n\n"

    return Stream(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@websocket("/events/ws")
async def events_ws(socket: WebSocket[AuthUser, object, State]) -> None:
    require_trusted_page(socket.scope)  # type: ignore[arg-type]
    after_id = resume_point(None, socket.query_params.get("lastEventId"))
    hub: EventHub = socket.app.state.events
    user = socket.user
    await socket.accept()
    with hub.subscription(user.id, user.session_id) as subscriber:
        gone = asyncio.create_task(_until_client_leaves(socket, subscriber))
        try:
            opening = await _opening(hub, subscriber, after_id)
            if opening is None:
                await socket.send_text('{"type":"reload","data":{}}')
            for event in opening or ():
                await socket.send_text(event.json())
            while True:
                try:
                    next_event = await subscriber.next(hub.heartbeat_seconds)
                except StreamClosed as closed:
                    if closed.reason != "client_gone":
                        gone.cancel()  # a receive() still pending holds granian's close back: stop reading first
                        await socket.close(CLOSE_CODES.get(closed.reason, 1000), closed.reason)
                    return
                await socket.send_text(next_event.json() if next_event else '{"type":"heartbeat"}')
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone


async def _until_client_leaves(socket: WebSocket, subscriber: Subscriber) -> None:
    # The client sends nothing we need; reading is how a closed socket is noticed.
    with contextlib.suppress(Exception):
        while (await socket.receive())["type"] != "websocket.disconnect":
            pass
    subscriber.close("client_gone")


router = Router(path="/api", route_handlers=[events_sse, events_ws])

"""Test clients for the two event streams (SSE and WebSocket) of a real `reachimpact serve`, behind one interface.

Both yield `Message(type, id, data)`: an event by its type, `heartbeat`, `reload`, and last `closed` with the reason
the server gave (for a WebSocket also its close code).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from service.realtime import publish
from tests.conftest import TEST_JWT_SECRET
from tests.test_serve import start_service, stop

WAIT = 10.0
APP_ORIGIN = "https://app.example.com"  # a trusted page (CORS_ORIGINS) of the services started here


@contextlib.contextmanager
def running_service(database_url: str, **env: str) -> Iterator[str]:
    """A `reachimpact serve` on the test's database (extra settings in `env`); yields its base URL."""
    process, base = start_service(
        {"DATABASE_URL": database_url, "JWT_SECRET": TEST_JWT_SECRET, "CORS_ORIGINS": APP_ORIGIN, **env},
        "--no-migrate",
    )
    try:
        yield base
    finally:
        stop(process)


async def emit(db: Any, user: Any, count: int = 1, type: str = "test.ping") -> list[int]:
    """`count` events for `user`, committed in one transaction; their ids."""
    async with db.transaction():
        return [await publish(db, [user.id], type, {"n": n}) for n in range(count)]


@dataclass(frozen=True)
class Message:
    type: str
    id: int | None = None
    data: Any = None
    code: int | None = None  # the WebSocket close code of a `closed` message


class Refused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class SseStream:
    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> Message:
        fields: dict[str, str] = {}
        comment = None
        while True:
            line = await asyncio.wait_for(anext(self.lines), WAIT)
            if line.startswith(":"):
                comment = line[1:].strip()
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif comment == "heartbeat":
                return Message("heartbeat")
            elif "event" in fields:
                data = json.loads(fields["data"])
                if fields["event"] == "closed":
                    return Message("closed", data=data["reason"])
                return Message(fields["event"], int(fields["id"]) if "id" in fields else None, data)
            else:  # the opening `retry:`
                fields, comment = {}, None


class WsStream:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket

    async def next(self) -> Message:
        message = await asyncio.wait_for(self.socket.receive(), WAIT)
        if message.type == aiohttp.WSMsgType.TEXT:
            body = json.loads(message.data)
            return Message(body["type"], body.get("id"), body.get("data"))
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        return Message("closed", data=message.extra, code=message.data)  # CLOSE: data is the code, extra the reason


@contextlib.asynccontextmanager
async def open_stream(
    kind: str, base: str, headers: dict[str, str], last_event_id: int | None = None
) -> AsyncIterator[SseStream | WsStream]:
    """An open stream of `kind` ("sse" or "ws"); raises Refused when the server answers the request with an error."""
    if kind == "sse":
        sse_headers = dict(headers)
        if last_event_id is not None:
            sse_headers["Last-Event-ID"] = str(last_event_id)
        async with (
            httpx.AsyncClient(base_url=base, timeout=WAIT) as http,
            http.stream("GET", "/api/events", headers=sse_headers) as response,
        ):
            if response.status_code != 200:
                raise Refused(response.status_code, (await response.aread()).decode())
            yield SseStream(response)
        return
    params = {} if last_event_id is None else {"lastEventId": str(last_event_id)}
    async with aiohttp.ClientSession() as session:
        try:
            socket = await session.ws_connect(
                base.replace("http", "ws", 1) + "/api/events/ws", headers=headers, params=params, autoping=True
            )
        except aiohttp.WSServerHandshakeError as refused:
            raise Refused(refused.status, refused.message) from None
        async with socket:
            yield WsStream(socket)


async def until(stream: SseStream | WsStream, wanted: str) -> list[Message]:
    """Messages up to and including the first of type `wanted` (heartbeats skipped unless wanted)."""
    got = []
    while True:
        message = await stream.next()
        if message.type == "heartbeat" and wanted != "heartbeat":
            continue
        got.append(message)
        if message.type == wanted:
            return got

"""Streams are in the access log: one line when an SSE stream or a WebSocket ends, with its request id and duration."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.conftest import TEST_JWT_SECRET
from tests.realtime.streams import Refused, open_stream
from tests.test_serve import start_service, stop

HELD_SECONDS = 0.6


@pytest.fixture
def logged_service(database_url, tmp_path):
    """A server logging JSON access lines at INFO to a file; yields (base URL, a function reading its lines)."""
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        env = {
            "DATABASE_URL": database_url,
            "JWT_SECRET": TEST_JWT_SECRET,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "EVENTS_HEARTBEAT_SECONDS": "1",
        }
        process, base = start_service(env, "--no-migrate", stdout=out)
        try:
            yield base, lambda: [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        finally:
            stop(process)


async def access_line(read_lines, request_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [line for line in read_lines() if line.get("event") == "request" and line["request_id"] == request_id]
        if found:
            assert len(found) == 1, found
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no access line for {request_id}")


async def test_an_sse_stream_is_logged_once_when_it_ends(logged_service, make_user):
    base, read_lines = logged_service
    me = await make_user()
    async with open_stream("sse", base, {**me.headers, "X-Request-ID": "sse-stream-1"}) as stream:
        assert (await stream.next()).type == "heartbeat"
        await asyncio.sleep(HELD_SECONDS)
        assert [line for line in read_lines() if line.get("request_id") == "sse-stream-1"] == []  # not before its end
    line = await access_line(read_lines, "sse-stream-1")  # the server notices the client left at its next write
    assert (line["method"], line["path"], line["status"], line["user_id"]) == ("GET", "/api/events", 200, str(me.id))
    assert line["duration_ms"] >= HELD_SECONDS * 1000


async def test_a_websocket_is_logged_once_when_it_closes_with_its_request_id(logged_service, make_user):
    base, read_lines = logged_service
    me = await make_user()
    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(
            base.replace("http", "ws", 1) + "/api/events/ws", headers={**me.headers, "X-Request-ID": "ws-stream-1"}
        )
        assert json.loads((await socket.receive(timeout=10)).data) == {"type": "heartbeat"}
        await asyncio.sleep(HELD_SECONDS)
        assert [line for line in read_lines() if line.get("request_id") == "ws-stream-1"] == []
        await socket.close()
    line = await access_line(read_lines, "ws-stream-1")
    assert {k: line[k] for k in ("method", "path", "status", "stream", "close_code", "user_id")} == {
        "method": "GET",
        "path": "/api/events/ws",
        "status": 101,
        "stream": "websocket",
        "close_code": 1000,
        "user_id": str(me.id),
    }
    assert line["duration_ms"] >= HELD_SECONDS * 1000


async def test_a_refused_websocket_is_logged_with_its_status(logged_service):
    base, read_lines = logged_service
    with pytest.raises(Refused):
        async with open_stream("ws", base, {"X-Request-ID": "ws-refused-1"}):
            pass
    line = await access_line(read_lines, "ws-refused-1")
    assert (line["path"], line["status"], line["stream"], line["user_id"]) == ("/api/events/ws", 403, "websocket", None)

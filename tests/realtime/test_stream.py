"""GET /api/events against a real `reachimpact serve` process: delivery to the audience only, resume by id."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from service.realtime import publish
from tests.conftest import TEST_JWT_SECRET
from tests.test_serve import start_service, stop


async def frames(response: httpx.Response, count: int) -> list[str]:
    got: list[str] = []
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            if frame.startswith("id:") or frame.startswith("event:"):
                got.append(frame)
                if len(got) == count:
                    return got
    return got


async def test_events_reach_their_audience_and_resume_after_the_last_id(database_url, db, make_user):
    process, base = start_service({"DATABASE_URL": database_url, "JWT_SECRET": TEST_JWT_SECRET}, "--no-migrate")
    try:
        me, other = await make_user(), await make_user()
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            async with http.stream("GET", "/api/events", headers=other.headers) as theirs:
                async with http.stream("GET", "/api/events", headers=me.headers) as mine:
                    assert mine.status_code == 200
                    assert mine.headers["content-type"].startswith("text/event-stream")
                    await asyncio.sleep(0.5)
                    async with db.transaction():
                        first = await publish(db, [me.id], "call.status", {"status": "ringing"})
                    got = await asyncio.wait_for(frames(mine, 1), 5)
                assert got == [f'id: {first}\nevent: call.status\ndata: {{"status": "ringing"}}']
                async with db.transaction():
                    second = await publish(db, [me.id], "call.status", {"status": "done"})
                with pytest.raises(TimeoutError):  # another user never receives my events
                    await asyncio.wait_for(frames(theirs, 1), 1)
            headers = {**me.headers, "Last-Event-ID": str(first)}
            async with http.stream("GET", "/api/events", headers=headers) as resumed:
                assert await asyncio.wait_for(frames(resumed, 1), 5) == [
                    f'id: {second}\nevent: call.status\ndata: {{"status": "done"}}'
                ]
            bad = await http.get("/api/events", params={"lastEventId": "x"}, headers=me.headers)
            assert bad.status_code == 400
            assert (await http.get("/api/events")).status_code == 401
    finally:
        stop(process)

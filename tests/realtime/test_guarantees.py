"""The stream guarantees, for SSE (GET /api/events) and the WebSocket (/api/events/ws) alike, on a real server:
auth by bearer or by cookie from a trusted page only, resume after the last id without gaps or duplicates, a
reload past the retention window, heartbeats, a slow consumer cut off, and the end of a stream with its session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from service.auth.middleware import ACCESS_COOKIE
from tests.realtime.streams import APP_ORIGIN, Refused, emit, open_stream, running_service, until

KINDS = ["sse", "ws"]


@pytest.fixture
def serve(database_url) -> Iterator[Callable[..., str]]:
    """serve(**env) -> the base URL of a `reachimpact serve` on the test's database, stopped after the test."""
    with contextlib.ExitStack() as services:
        yield lambda **env: services.enter_context(running_service(database_url, **env))


@pytest.mark.parametrize("kind", KINDS)
async def test_delivery_heartbeats_and_resume_without_gaps_or_duplicates(kind, serve, db, make_user):
    base = serve(EVENTS_HEARTBEAT_SECONDS="1")
    me = await make_user()
    async with open_stream(kind, base, me.headers) as stream:
        assert [m.type for m in await until(stream, "heartbeat")] == ["heartbeat"]  # a quiet stream still beats
        [first] = await emit(db, me)
        [got] = await until(stream, "test.ping")
        assert (got.id, got.data) == (first, {"n": 0})
    missed = await emit(db, me, 3)
    async with open_stream(kind, base, me.headers, last_event_id=first) as stream:
        replayed = [await stream.next() for _ in range(3)]
        assert [(m.type, m.id, m.data) for m in replayed] == [
            ("test.ping", event_id, {"n": n}) for n, event_id in enumerate(missed)
        ]
        [live] = await emit(db, me)
        assert [(m.id, m.type) for m in await until(stream, "test.ping")] == [(live, "test.ping")]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_resume_point_past_the_retention_window_gets_reload(kind, serve, db, make_user):
    base = serve()
    me = await make_user()
    old = await emit(db, me, 2)
    [kept] = await emit(db, me)
    await db.execute("UPDATE events SET created_at = now() - interval '2 hours' WHERE id = ANY($1)", old)
    async with open_stream(kind, base, me.headers, last_event_id=old[0]) as stream:
        # old[1] is past the window: no exact replay is possible, so the client refetches its state.
        assert (await stream.next()).type == "reload"
        [live] = await emit(db, me)
        assert [m.id for m in await until(stream, "test.ping")] == [live]
    async with open_stream(kind, base, me.headers, last_event_id=old[1]) as stream:
        assert [m.id for m in await until(stream, "test.ping")] == [kept]  # from a kept point: the exact replay
    async with open_stream(kind, base, me.headers, last_event_id=live + 1000) as stream:
        assert (await stream.next()).type == "reload"  # an id from the future (another database): reload


@pytest.mark.parametrize("kind", KINDS)
async def test_a_consumer_that_falls_behind_is_cut_off_and_resumes(kind, serve, db, make_user):
    base = serve(EVENTS_MAX_QUEUED="4")
    me = await make_user()
    [before] = await emit(db, me)
    async with open_stream(kind, base, me.headers, last_event_id=before) as stream:
        within = await emit(db, me, 3)
        assert [m.id for m in await until(stream, "test.ping")] == within[:1]  # within the bound: delivered
        burst = await emit(db, me, 6)  # more than it may hold at once
        closed = await until(stream, "closed")
        assert (closed[-1].data, closed[-1].code) == ("slow_consumer", None if kind == "sse" else 1013)
        assert {m.id for m in closed[:-1]} <= set(within[1:])  # nothing of the burst: dropped, not buffered
    async with open_stream(kind, base, me.headers, last_event_id=burst[1]) as stream:
        replayed = [await stream.next() for _ in range(4)]
        assert [m.id for m in replayed] == burst[2:]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_ends_when_its_session_is_revoked(kind, serve, make_user):
    base = serve()
    me = await make_user()
    async with open_stream(kind, base, me.headers) as stream:
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.post("/api/auth/logout-all", headers=me.headers)).status_code == 204
        closed = await until(stream, "closed")
        assert (closed[-1].data, closed[-1].code) == ("session_revoked", None if kind == "sse" else 1008)
    with pytest.raises(Refused) as refused:
        async with open_stream(kind, base, me.headers):
            pass
    assert refused.value.status == (401 if kind == "sse" else 403)


@pytest.mark.parametrize("kind", KINDS)
async def test_cookie_auth_only_from_a_trusted_page_and_none_without_credentials(kind, serve, db, make_user):
    base = serve()
    me = await make_user()
    cookie = {"Cookie": f"{ACCESS_COOKIE}={me.token}"}
    for untrusted in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {}):
        with pytest.raises(Refused) as refused:
            async with open_stream(kind, base, {**cookie, **untrusted}):
                pass
        assert refused.value.status == 403, untrusted
    with pytest.raises(Refused) as refused:
        async with open_stream(kind, base, {"Origin": APP_ORIGIN}):
            pass
    # A WebSocket refused before it is accepted is an HTTP 403 whatever the reason (ASGI has no other answer).
    assert refused.value.status == (401 if kind == "sse" else 403)
    for trusted in ({"Origin": APP_ORIGIN}, {"Sec-Fetch-Site": "same-origin"}):
        async with open_stream(kind, base, {**cookie, **trusted}) as stream:
            await asyncio.sleep(0.3)
            [event] = await emit(db, me)
            assert [m.id for m in await until(stream, "test.ping")] == [event]
    # A bearer token is not sent by the browser on its own, so it needs no Origin.
    async with open_stream(kind, base, {**me.headers, "Origin": "https://evil.example"}) as stream:
        await asyncio.sleep(0.3)
        [event] = await emit(db, me)
        assert [m.id for m in await until(stream, "test.ping")] == [event]

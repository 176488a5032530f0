"""Sessions: refresh rotation, reuse detection, and revocation that ends access tokens at once, on every instance."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.revocation import APPLICATION_NAME, CHANNEL
from tests.auth.helpers import bearer, login, register


async def verify_status(client, token: str) -> int:
    return (await client.get("/api/auth/verify", headers=bearer(token))).status_code


async def eventually(probe, expected, seconds: float = 5.0):
    """Poll an async probe until it returns `expected` (for effects that cross a connection)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    value = await probe()
    while value != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
        value = await probe()
    return value


async def refresh(client, refresh_token: str):
    return await client.post("/api/auth/refresh", json={"refreshToken": refresh_token})


async def test_refresh_rotates_the_token_and_keeps_the_session(client):
    body = await register(client)
    response = await refresh(client, body["refreshToken"])
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refreshToken"] != body["refreshToken"]
    assert rotated["id"] == body["id"]
    assert await verify_status(client, rotated["token"]) == 200
    sessions = (await client.get("/api/auth/sessions", headers=bearer(rotated["token"]))).json()
    assert len(sessions) == 1 and sessions[0]["current"] is True
    assert (await refresh(client, rotated["refreshToken"])).status_code == 200


async def test_reusing_a_rotated_refresh_token_ends_the_whole_family(client, db):
    body = await register(client)
    rotated = (await refresh(client, body["refreshToken"])).json()
    reuse = await refresh(client, body["refreshToken"])
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # The thief's and the owner's tokens of that session all stop working, at once.
    assert (await refresh(client, rotated["refreshToken"])).status_code == 401
    assert await verify_status(client, rotated["token"]) == 401
    assert await verify_status(client, body["token"]) == 401
    assert await db.fetchval("SELECT revoked_reason FROM auth_sessions") == "refresh_token_reuse"


@pytest.mark.parametrize("token", ["", "made-up", "x" * 300])
async def test_unknown_or_malformed_refresh_tokens_are_refused(client, token):
    response = await refresh(client, token)
    assert response.status_code in (400, 401)
    assert response.json()["message"]


async def test_an_expired_refresh_token_is_refused(client, db):
    body = await register(client)
    await db.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    assert (await refresh(client, body["refreshToken"])).status_code == 401


async def test_refresh_is_refused_for_a_disabled_user(client, db):
    body = await register(client)
    await db.execute("UPDATE users SET disabled = true")
    assert (await refresh(client, body["refreshToken"])).status_code == 401


async def test_logout_ends_the_access_token_at_once(client, db):
    body = await register(client)
    response = await client.post("/api/auth/logout", headers=bearer(body["token"]))
    assert response.status_code == 204
    assert await verify_status(client, body["token"]) == 401
    assert (await client.get("/api/auth/verify", headers=bearer(body["token"]))).json()["code"] == "session_revoked"
    assert (await refresh(client, body["refreshToken"])).status_code == 401
    assert await db.fetchval("SELECT revoked_reason FROM auth_sessions") == "logout"


async def test_logout_with_only_the_refresh_token_and_logout_twice(client):
    body = await register(client)
    first = await client.post("/api/auth/logout", json={"refreshToken": body["refreshToken"]})
    assert first.status_code == 204
    assert await verify_status(client, body["token"]) == 401
    again = await client.post("/api/auth/logout", json={"refreshToken": body["refreshToken"]})
    assert again.status_code == 204


async def test_logout_all_ends_every_session_of_the_account_only(client):
    first = await register(client)
    email = first["email"]
    second = (await login(client, email)).json()
    bystander = await register(client)
    assert (await client.post("/api/auth/logout-all", headers=bearer(second["token"]))).status_code == 204
    assert await verify_status(client, first["token"]) == 401
    assert await verify_status(client, second["token"]) == 401
    assert await verify_status(client, bystander["token"]) == 200


async def test_a_user_can_end_another_of_their_sessions_but_not_someone_elses(client):
    phone = await register(client)
    laptop = (await login(client, phone["email"], **{"User-Agent": "laptop"})).json()
    other = await register(client)
    listed = (await client.get("/api/auth/sessions", headers=bearer(laptop["token"]))).json()
    assert len(listed) == 2
    assert {s["userAgent"] for s in listed if s["current"]} == {"laptop"}
    phone_session = next(s["id"] for s in listed if not s["current"])

    other_session = (await client.get("/api/auth/sessions", headers=bearer(other["token"]))).json()[0]["id"]
    refused = await client.delete(f"/api/auth/sessions/{other_session}", headers=bearer(laptop["token"]))
    assert refused.status_code == 404
    assert await verify_status(client, other["token"]) == 200

    ended = await client.delete(f"/api/auth/sessions/{phone_session}", headers=bearer(laptop["token"]))
    assert ended.status_code == 204
    assert await verify_status(client, phone["token"]) == 401
    assert await verify_status(client, laptop["token"]) == 200
    unknown = await client.delete(f"/api/auth/sessions/{uuid.uuid4()}", headers=bearer(laptop["token"]))
    assert unknown.status_code == 404


async def test_a_revocation_reaches_another_instance_through_notify(settings, client):
    body = await register(client)
    async with AsyncTestClient(app=create_app(settings)) as other_instance:
        assert await verify_status(other_instance, body["token"]) == 200
        await client.post("/api/auth/logout", headers=bearer(body["token"]))
        assert await eventually(lambda: verify_status(other_instance, body["token"]), 401) == 401


async def test_revocations_committed_before_start_up_are_loaded(settings, make_user, db):
    user = await make_user()
    await db.execute("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1", user.id)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert await verify_status(client, user.token) == 401


async def test_the_listen_connection_comes_back_after_being_killed(client, make_user, db):
    user = await make_user()
    # The listener, once it has LISTENed and finished its resync query (so what follows is news to it).
    listener_pid = """
        SELECT pid FROM pg_stat_activity
        WHERE application_name = $1 AND datname = current_database() AND state = 'idle' AND query LIKE '%revoked_at%'
    """
    first_pid = await db.fetchval(listener_pid, APPLICATION_NAME)
    assert first_pid
    await db.execute("SELECT pg_terminate_backend($1)", first_pid)

    async def new_listener() -> bool:
        pid = await db.fetchval(listener_pid, APPLICATION_NAME)
        return pid is not None and pid != first_pid

    assert await eventually(new_listener, True)
    # Revoked by "another instance": only the NOTIFY can tell this one before its next resync.
    session_id = await db.fetchval("UPDATE auth_sessions SET revoked_at = now() WHERE user_id = $1 RETURNING id",
                                   user.id)  # fmt: skip
    await db.execute("SELECT pg_notify($1, $2)", CHANNEL, str(session_id))
    assert await eventually(lambda: verify_status(client, user.token), 401) == 401

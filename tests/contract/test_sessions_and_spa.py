"""The SPA never refreshes: its login token keeps working while the session lives, and ends at revocation.
And the built SPA served from SPA_DIR at `/`, the API untouched."""

from __future__ import annotations

import dataclasses
import time

import jwt
from litestar.testing import AsyncTestClient

from service.app import create_app
from tests.contract.conftest import SAME_ORIGIN


def expired_copy(token: str, secret: str) -> str:
    """The same session's token, as the SPA still holds it an hour after login."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 3600
    return jwt.encode(claims, secret, algorithm="HS256", headers=jwt.get_unverified_header(token))


async def test_an_expired_token_works_while_its_session_lives_and_slides_it(spa, settings, db):
    stale = expired_copy(spa.token, settings.jwt_secret)
    before = await db.fetchval("SELECT expires_at FROM auth_sessions")
    response = await spa.client.get("/api/auth/verify", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 200 and response.json()["id"] == spa.user["id"]
    assert await db.fetchval("SELECT expires_at FROM auth_sessions") >= before
    assert await db.fetchval("SELECT last_used_at IS NOT NULL FROM auth_sessions")


async def test_an_expired_token_ends_with_logout_at_once(spa, settings):
    stale = {"Authorization": f"Bearer {expired_copy(spa.token, settings.jwt_secret)}"}
    assert (await spa.client.get("/api/contacts", headers=stale)).status_code == 200  # remembered as live
    assert (await spa.client.post("/api/auth/logout", headers=stale)).status_code == 204
    response = await spa.client.get("/api/contacts", headers=stale)
    assert (response.status_code, response.json()["code"]) == (401, "session_revoked")


async def test_an_expired_token_of_an_ended_or_disabled_session_is_refused(spa, settings, db):
    stale = {"Authorization": f"Bearer {expired_copy(spa.token, settings.jwt_secret)}"}
    await db.execute("UPDATE users SET disabled = true")
    response = await spa.client.get("/api/contacts", headers=stale)
    assert (response.status_code, response.json()["code"]) == (401, "session_expired")


async def test_an_expired_token_signed_by_someone_else_is_refused(spa):
    forged = expired_copy(spa.token, "x" * 48)
    response = await spa.client.get("/api/contacts", headers={"Authorization": f"Bearer {forged}"})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


async def test_the_access_cookie_lives_as_long_as_the_session(client, settings):
    from tests.contract.conftest import register_form

    response = await client.post("/api/auth/register", json=register_form("cookie@example.com"))
    access = next(h for h in response.headers.get_list("set-cookie") if h.startswith("ri_access="))
    assert f"Max-Age={settings.refresh_token_ttl_seconds}" in access and "SameSite=lax" in access


async def test_the_built_spa_is_served_at_the_root_and_the_api_untouched(settings, tmp_path):
    spa_dir = tmp_path / "dist"
    (spa_dir / "assets").mkdir(parents=True)
    (spa_dir / "index.html").write_text('<div id="root"></div><script src="/assets/index-abc123.js"></script>')
    (spa_dir / "assets" / "index-abc123.js").write_text("console.log('spa')")
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, spa_dir=spa_dir))) as client:
        index = await client.get("/")
        assert index.status_code == 200 and 'id="root"' in index.text
        assert (
            index.headers["cache-control"] == "no-cache"
            and "script-src 'self'" in index.headers["content-security-policy"]
        )
        route = await client.get("/campaigns/0190abcd", headers=SAME_ORIGIN)
        assert route.status_code == 200 and route.text == index.text  # a client-side route
        asset = await client.get("/assets/index-abc123.js")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert (
            asset.headers["content-type"].startswith("text/javascript") or "javascript" in asset.headers["content-type"]
        )
        assert (await client.get("/assets/index-old.js")).status_code == 404  # never HTML for a missing asset
        assert (await client.get("/../../etc/passwd")).status_code in (200, 404)
        assert "root:" not in (await client.get("/..%2f..%2fetc/passwd")).text
        api = await client.get("/api/nothing-here")
        assert api.status_code == 404 and api.json()["code"] == "not_found"
        assert (await client.get("/api/contacts")).status_code == 401
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/schema/openapi.json")).status_code == 200

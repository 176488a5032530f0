"""Browser clients: HttpOnly cookies, and CSRF protection of every cookie-authenticated write."""

from __future__ import annotations

import dataclasses

from service.auth.cookies import CookiePolicy
from tests.auth.helpers import bearer, register

PROFILE_CHANGE = {"companyName": "Acme"}


def set_cookies(response) -> dict[str, str]:
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


async def test_browser_login_sets_scoped_httponly_cookies(client):
    response = await client.post(
        "/api/auth/register", json={"email": "b@example.com", "password": "password-123", "fullName": "B"}
    )
    cookies = set_cookies(response)
    assert "HttpOnly" in cookies["ri_access"] and "Path=/api;" in cookies["ri_access"]
    assert "HttpOnly" in cookies["ri_refresh"] and "Path=/api/auth;" in cookies["ri_refresh"]
    assert "HttpOnly" not in cookies["ri_csrf"] and "Path=/;" in cookies["ri_csrf"]
    assert all("SameSite=lax" in line for line in cookies.values())
    assert not any("Secure" in line for line in cookies.values())  # not in development
    assert response.json()["csrfToken"] in cookies["ri_csrf"]


def test_cookies_are_secure_in_production(settings):
    policy = CookiePolicy(dataclasses.replace(settings, env="production"))
    assert all(cookie.secure for cookie in policy.issued("a", "r", "c"))


async def test_cookies_authenticate_reads_and_csrf_guards_writes(client):
    await register(client, browser=True)
    assert (await client.get("/api/auth/verify")).status_code == 200
    refused = await client.put("/api/user/profile", json=PROFILE_CHANGE)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    wrong = await client.put("/api/user/profile", json=PROFILE_CHANGE, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    accepted = await client.put(
        "/api/user/profile", json=PROFILE_CHANGE, headers={"X-CSRF-Token": client.cookies["ri_csrf"]}
    )
    assert accepted.status_code == 200
    assert accepted.json()["companyName"] == "Acme"


async def test_a_csrf_token_of_another_session_does_not_pass(client):
    other = await register(client, browser=True)
    await register(client, browser=True)  # the jar now holds the second account's cookies
    response = await client.put("/api/user/profile", json=PROFILE_CHANGE, headers={"X-CSRF-Token": other["csrfToken"]})
    assert response.status_code == 403


async def test_bearer_writes_need_no_csrf_token(client):
    body = await register(client)
    response = await client.put("/api/user/profile", json=PROFILE_CHANGE, headers=bearer(body["token"]))
    assert response.status_code == 200


async def test_the_refresh_cookie_rotates_and_logout_clears_the_cookies(client):
    await register(client, browser=True)
    old_refresh = client.cookies["ri_refresh"]
    response = await client.post("/api/auth/refresh")
    assert response.status_code == 200
    assert "refreshToken" not in response.json()
    assert client.cookies["ri_refresh"] != old_refresh
    assert (await client.get("/api/auth/verify")).status_code == 200

    logout = await client.post("/api/auth/logout")
    assert logout.status_code == 204
    assert all("Max-Age=0" in line for line in set_cookies(logout).values())
    assert "ri_access" not in client.cookies
    assert (await client.get("/api/auth/verify")).status_code == 401


async def test_csrf_still_applies_after_a_refresh(client):
    await register(client, browser=True)
    await client.post("/api/auth/refresh")
    token = client.cookies["ri_csrf"]
    response = await client.put("/api/user/profile", json=PROFILE_CHANGE, headers={"X-CSRF-Token": token})
    assert response.status_code == 200

"""Register and log in: the SPA's shapes, the refusals, and nothing written by a refused request."""

from __future__ import annotations

import jwt
import pytest
from argon2 import PasswordHasher

from service.auth.passwords import Passwords, StoredPassword
from tests.auth.helpers import BEARER_MODE, PASSWORD, bearer, login, new_email, register

SECRET_FIELDS = {"password", "passwordHash", "legacyPasswordHash", "legacyPasswordSalt", "refreshTokenHash"}


async def test_register_answers_201_with_the_user_and_a_token_whose_sub_is_the_user(client, settings, db):
    email = new_email()
    body = await register(client, email.upper())
    user = body  # the user's own fields at the top level, beside the tokens
    assert user["email"] == email  # stored lower-case
    assert user["fullName"] == "Ada Lovelace"
    assert user["role"] == "customer" and user["aiCredits"] == settings.initial_ai_credits == 50
    assert not SECRET_FIELDS & set(user)
    # The welcome credits are a ledger row like every other credit change.
    assert await db.fetchval("SELECT delta FROM credit_ledger WHERE user_id = $1 AND kind = 'grant'", user["id"]) == 50
    claims = jwt.decode(body["token"], settings.jwt_secret, algorithms=["HS256"], audience="reachimpact-api")
    assert claims["sub"] == user["id"]
    assert body["refreshToken"] and body["expiresIn"] == settings.access_token_ttl_seconds


async def test_the_role_sent_by_the_client_is_ignored(client, db):
    response = await client.post(
        "/api/auth/register", json={"email": new_email(), "password": PASSWORD, "fullName": "Mallory", "role": "admin"}
    )
    assert response.status_code == 201
    assert response.json()["role"] == "customer"
    assert await db.fetchval("SELECT count(*) FROM users WHERE role = 'admin'") == 0


async def test_an_unknown_field_is_400_naming_it_and_creates_nothing(client, db):
    response = await client.post(
        "/api/auth/register",
        json={"email": new_email(), "password": PASSWORD, "fullName": "Mallory", "aiCredits": 10**6},
    )
    assert response.status_code == 400
    assert "aiCredits" in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_optional_fields_are_stored_and_the_phone_normalized(client):
    response = await client.post(
        "/api/auth/register",
        json={"email": new_email(), "password": PASSWORD, "fullName": "Ada", "companyName": "Acme",
              "phone": "(415) 555-0123"},
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["companyName"] == "Acme"
    assert response.json()["phoneNumber"] == "+14155550123"


async def test_a_duplicate_email_is_409_whatever_its_case(client, db):
    email = new_email()
    await register(client, email)
    response = await client.post(
        "/api/auth/register", json={"email": email.upper(), "password": PASSWORD, "fullName": "Again"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD, "fullName": "A"}, "email"),
        ({"email": "not-an-email", "password": PASSWORD, "fullName": "A"}, "email"),
        ({"email": "a@example.com", "password": "short", "fullName": "A"}, "password"),
        ({"email": "a@example.com", "password": "x" * 2000, "fullName": "A"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "fullName": "   "}, "fullName"),
        ({"email": "a@example.com", "password": PASSWORD}, "fullName"),
        ({"email": "a@example.com", "password": 12345678, "fullName": "A"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "fullName": "A", "phone": "12"}, "phone"),
    ],
)
async def test_bad_registrations_are_400_naming_the_field_and_write_nothing(client, db, body, field):
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    assert await db.fetchval("SELECT count(*) FROM auth_sessions") == 0


async def test_login_answers_the_user_and_a_new_session(client, db):
    email = new_email()
    registered = await register(client, email)
    response = await login(client, email.upper())
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == registered["id"]
    assert body["lastSignInAt"]
    assert (await client.get("/api/auth/verify", headers=bearer(body["token"]))).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM auth_sessions") == 2


@pytest.mark.parametrize("wrong", ["wrong-password", "", PASSWORD.upper()])
async def test_a_wrong_password_is_401_with_the_usual_message(client, wrong):
    email = new_email()
    await register(client, email)
    response = await login(client, email, wrong)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"


async def test_an_unknown_email_gets_the_same_answer(client, db):
    response = await login(client, new_email())
    assert response.status_code == 401
    assert response.json() | {"requestId": None} == {
        "message": "Invalid email or password", "code": "invalid_credentials", "requestId": None,
    }  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM auth_sessions") == 0


async def test_a_disabled_account_cannot_log_in(client, db):
    email = new_email()
    await register(client, email)
    await db.execute("UPDATE users SET disabled = true WHERE email = $1", email)
    response = await login(client, email)
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"


async def test_a_login_upgrades_an_outdated_argon2_hash(client, db, settings):
    email = new_email()
    await register(client, email)
    weaker = PasswordHasher(time_cost=1, memory_cost=16, parallelism=2).hash(PASSWORD)
    await db.execute("UPDATE users SET password_hash = $2 WHERE email = $1", email, weaker)
    assert (await login(client, email)).status_code == 200
    upgraded = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    assert upgraded != weaker and "p=1" in upgraded
    assert (await login(client, email)).status_code == 200


async def test_an_unknown_email_costs_one_argon2_verification_like_a_known_one(settings):
    verified = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(hash)
            return super().verify(hash, password)

    passwords = Passwords(settings)
    passwords.hasher = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    known = StoredPassword(passwords.hasher.hash(PASSWORD), None, None)
    assert (await passwords.check(known, "nope")).ok is False
    assert (await passwords.check(None, "nope")).ok is False
    assert (await passwords.check(StoredPassword(None, None, None), "nope")).usable is False
    assert len(verified) == 3
    passwords.close()


async def test_bearer_mode_sets_no_cookies_and_browser_mode_keeps_the_refresh_token_out_of_the_body(client):
    bearer_response = await client.post(
        "/api/auth/register", json={"email": new_email(), "password": PASSWORD, "fullName": "A"}, headers=BEARER_MODE
    )
    assert "set-cookie" not in bearer_response.headers
    assert bearer_response.json()["refreshToken"]
    browser_response = await client.post(
        "/api/auth/register", json={"email": new_email(), "password": PASSWORD, "fullName": "B"}
    )
    assert "refreshToken" not in browser_response.json()
    assert browser_response.json()["token"]
    assert {c.split("=")[0] for c in browser_response.headers.get_list("set-cookie")} == {
        "ri_access", "ri_refresh", "ri_csrf",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", {}),
        ("/api/auth/login", {"email": "a@example.com"}),
        ("/api/auth/login", {"email": ["a@example.com"], "password": PASSWORD}),
        ("/api/auth/login", "not json"),
        ("/api/auth/refresh", {"refreshToken": 42}),
        ("/api/auth/password/forgot", {"email": None}),
        ("/api/auth/password/reset", {"token": "t"}),
        ("/api/auth/password/reset", {"token": "t", "password": "short"}),
    ],
)
async def test_malformed_auth_bodies_are_400_and_write_nothing(client, db, path, body):
    payload = {"content": body} if isinstance(body, str) else {"json": body}
    response = await client.post(path, headers={"Content-Type": "application/json"}, **payload)
    assert response.status_code == 400
    assert response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM rate_limit_counters") == 0
    assert await db.fetchval("SELECT count(*) FROM auth_sessions") == 0

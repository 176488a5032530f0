"""/api/admin: only administrators; listing, disabling (sessions end at once) and enabling accounts."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.cli import main
from tests.auth.helpers import PASSWORD, bearer, login, register

SOMEONE = "01900000-0000-7000-8000-000000000001"
ADMIN_ROUTES = [
    ("GET", "/api/admin/users"),
    ("POST", f"/api/admin/users/{SOMEONE}/disable"),
    ("POST", f"/api/admin/users/{SOMEONE}/enable"),
    ("POST", f"/api/admin/users/{SOMEONE}/credits"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_customers_get_403_and_strangers_401(client, make_user, method, path):
    customer = await make_user()
    as_customer = await client.request(method, path, headers=customer.headers, json={"amount": 1})
    assert as_customer.status_code == 403
    assert (await client.request(method, path, json={"amount": 1})).status_code == 401


async def test_listing_pages_newest_first_and_searches(client, make_user):
    admin = await make_user(role="admin", email="boss@example.com")
    made = [await make_user(email=f"list-{i}@example.com") for i in range(5)]
    first = await client.get("/api/admin/users", params={"limit": 4}, headers=admin.headers)
    assert first.status_code == 200
    page = first.json()
    assert [u["email"] for u in page["items"]] == [u.email for u in reversed(made)][:4]
    assert "disabled" in page["items"][0] and "passwordHash" not in page["items"][0]
    rest = await client.get("/api/admin/users", params={"limit": 4, "after": page["nextCursor"]}, headers=admin.headers)
    assert [u["email"] for u in rest.json()["items"]] == [made[0].email, admin.email]
    assert rest.json()["nextCursor"] is None
    found = await client.get("/api/admin/users", params={"search": "LIST-3"}, headers=admin.headers)
    assert [u["email"] for u in found.json()["items"]] == ["list-3@example.com"]
    wildcard = await client.get("/api/admin/users", params={"search": "%"}, headers=admin.headers)
    assert wildcard.json()["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1000}, {"after": "nope"}])
async def test_bad_listing_parameters_are_400(client, make_user, params):
    admin = await make_user(role="admin")
    assert (await client.get("/api/admin/users", params=params, headers=admin.headers)).status_code == 400


async def test_disabling_ends_every_session_at_once_and_enabling_lets_them_back(client, make_user):
    admin = await make_user(role="admin")
    body = await register(client)
    user_id, email = body["id"], body["email"]

    disabled = await client.post(f"/api/admin/users/{user_id}/disable", headers=admin.headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert (await client.get("/api/auth/verify", headers=bearer(body["token"]))).status_code == 401
    assert (await client.post("/api/auth/refresh", json={"refreshToken": body["refreshToken"]})).status_code == 401
    assert (await login(client, email)).status_code == 403

    enabled = await client.post(f"/api/admin/users/{user_id}/enable", headers=admin.headers)
    assert enabled.json()["disabled"] is False
    assert (await login(client, email)).status_code == 200


async def test_an_admin_cannot_disable_themselves_and_unknown_users_are_404(client, make_user):
    admin = await make_user(role="admin")
    assert (await client.post(f"/api/admin/users/{admin.id}/disable", headers=admin.headers)).status_code == 403
    unknown = await client.post(f"/api/admin/users/{uuid.uuid4()}/disable", headers=admin.headers)
    assert unknown.status_code == 404


def test_create_admin_creates_then_promotes(settings, database_url):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": settings.jwt_secret,
        "ARGON2_MEMORY_KIB": "8",
        "ARGON2_TIME_COST": "1",
        "LOG_LEVEL": "WARNING",
    }
    runner = CliRunner()
    typed_twice = f"{PASSWORD}\n{PASSWORD}\n"
    created = runner.invoke(main, ["users", "create-admin", "Root@Example.com"], input=typed_twice, env=env)
    assert created.exit_code == 0, created.output
    assert "created administrator root@example.com" in created.output
    assert asyncio.run(role_after_login(settings, "root@example.com")) == "admin"

    runner.invoke(main, ["users", "create-admin", "other@example.com"], input=typed_twice, env=env)
    promoted = runner.invoke(main, ["users", "create-admin", "root@example.com"], env=env)
    assert "is now an administrator" in promoted.output
    assert runner.invoke(main, ["users", "create-admin", "not-an-email"], env=env).exit_code == 2


async def role_after_login(settings, email: str) -> str:
    async with AsyncTestClient(app=create_app(settings)) as client:
        return (await login(client, email)).json()["role"]

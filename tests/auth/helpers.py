"""Shared steps of the auth and users tests."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient

PASSWORD = "correct-horse-battery-9"
BEARER_MODE = {"X-Auth-Mode": "bearer"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


async def register(
    client: AsyncTestClient, email: str | None = None, password: str = PASSWORD, *, browser: bool = False
) -> dict:
    """Register (as a bearer client unless `browser`); returns the 201 body."""
    response = await client.post(
        "/api/auth/register",
        json={"email": email or new_email(), "password": password, "fullName": "Ada Lovelace"},
        headers=None if browser else BEARER_MODE,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def login(client: AsyncTestClient, email: str, password: str = PASSWORD, **headers: str):
    return await client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers={**BEARER_MODE, **headers}
    )

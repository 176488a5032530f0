"""Forgot/reset over real SMTP (a loopback aiosmtpd server), and changing the password."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import queue
import re
from collections.abc import Iterator
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from service.config import Settings
from tests.auth.helpers import PASSWORD, bearer, login, new_email, register
from tests.fakes.ports import free_port

NEW_PASSWORD = "a-brand-new-password-7"


class Inbox:
    """An aiosmtpd handler keeping what it receives (it runs on the controller's own thread)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        self.messages.put(email.message_from_bytes(envelope.content))
        return "250 OK"

    async def next(self, seconds: float = 5.0) -> Message:
        return await asyncio.to_thread(self.messages.get, timeout=seconds)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def settings(settings: Settings, inbox) -> Settings:
    return dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{inbox[1]}")


def reset_token(message: Message) -> str:
    link = re.search(r"https?://\S+", message.get_payload(decode=True).decode())
    assert link, "the mail holds a link"
    assert link.group(0).startswith("http://testserver.local/reset-password?")
    return parse_qs(urlsplit(link.group(0)).query)["token"][0]


async def forgot(client, address: str):
    return await client.post("/api/auth/password/forgot", json={"email": address})


async def reset(client, token: str, password: str = NEW_PASSWORD):
    return await client.post("/api/auth/password/reset", json={"token": token, "password": password})


async def test_the_mailed_link_resets_the_password_and_ends_every_session(client, inbox, db):
    body = await register(client)
    address = body["email"]
    response = await forgot(client, address.upper())
    assert response.status_code == 202

    message = await inbox[0].next()
    assert message["To"] == address
    assert "ReachImpact" in message["From"]
    assert (await reset(client, reset_token(message))).status_code == 204

    assert (await client.get("/api/auth/verify", headers=bearer(body["token"]))).status_code == 401
    assert (await login(client, address)).status_code == 401
    logged_in = await login(client, address, NEW_PASSWORD)
    assert logged_in.status_code == 200
    assert logged_in.json()["emailVerified"] is True
    assert await db.fetchval("SELECT count(*) FROM auth_sessions WHERE revoked_reason = 'password_reset'") == 1


async def test_a_reset_link_works_once(client, inbox):
    address = (await register(client))["email"]
    await forgot(client, address)
    token = reset_token(await inbox[0].next())
    assert (await reset(client, token)).status_code == 204
    second = await reset(client, token, "yet-another-password-8")
    assert second.status_code == 400
    assert second.json()["code"] == "invalid_reset_token"


async def test_only_the_latest_link_works_and_links_expire(client, inbox, db):
    address = (await register(client))["email"]
    await forgot(client, address)
    older = reset_token(await inbox[0].next())
    await forgot(client, address)
    latest = reset_token(await inbox[0].next())
    assert (await reset(client, older)).status_code == 400
    await db.execute("UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'")
    assert (await reset(client, latest)).status_code == 400
    assert (await login(client, address)).status_code == 200


async def test_an_unknown_address_gets_the_same_202_and_no_mail(client, inbox, db):
    response = await forgot(client, new_email())
    assert response.status_code == 202
    assert response.json()["message"]
    with pytest.raises(queue.Empty):
        await inbox[0].next(seconds=0.5)
    assert await db.fetchval("SELECT count(*) FROM password_reset_tokens") == 0


async def test_a_weak_new_password_is_refused_and_the_token_kept(client, inbox):
    address = (await register(client))["email"]
    await forgot(client, address)
    token = reset_token(await inbox[0].next())
    assert (await reset(client, token, "short")).status_code == 400
    assert (await reset(client, token)).status_code == 204


async def test_changing_the_password_keeps_this_session_and_ends_the_others(client):
    first = await register(client)
    address = first["email"]
    second = (await login(client, address)).json()
    response = await client.put(
        "/api/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(second["token"]),
    )
    assert response.status_code == 204
    assert (await client.get("/api/auth/verify", headers=bearer(second["token"]))).status_code == 200
    assert (await client.get("/api/auth/verify", headers=bearer(first["token"]))).status_code == 401
    assert (await login(client, address, NEW_PASSWORD)).status_code == 200


async def test_changing_the_password_needs_the_current_one(client, db):
    body = await register(client)
    before = await db.fetchval("SELECT password_hash FROM users")
    response = await client.put(
        "/api/auth/password",
        json={"currentPassword": "not-it", "newPassword": NEW_PASSWORD},
        headers=bearer(body["token"]),
    )
    assert response.status_code == 401
    assert await db.fetchval("SELECT password_hash FROM users") == before

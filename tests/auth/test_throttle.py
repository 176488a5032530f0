"""Failed-login limits per account and per client address, shared through Postgres; client IPs behind proxies."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from service.auth.client_ip import ClientAddress
from service.auth.throttle import address_bucket
from service.config import ConfigError, Settings
from tests.auth.helpers import login, new_email, register

ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, login_max_failures_per_account=ACCOUNT_LIMIT, login_max_failures_per_ip=ADDRESS_LIMIT
    )


async def fail(client, email: str, times: int) -> list[int]:
    return [(await login(client, email, "wrong-password")).status_code for _ in range(times)]


async def test_an_account_is_locked_after_its_limit_even_for_the_right_password(client):
    email = (await register(client))["email"]
    assert await fail(client, email, ACCOUNT_LIMIT) == [401] * ACCOUNT_LIMIT
    locked = await login(client, email)
    assert locked.status_code == 429
    assert locked.json()["code"] == "rate_limited"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60


async def test_a_success_clears_the_account_count(client):
    email = (await register(client))["email"]
    await fail(client, email, ACCOUNT_LIMIT - 1)
    assert (await login(client, email)).status_code == 200
    assert await fail(client, email, ACCOUNT_LIMIT) == [401] * ACCOUNT_LIMIT


async def test_the_lock_lifts_when_the_window_ends(client, db):
    email = (await register(client))["email"]
    await fail(client, email, ACCOUNT_LIMIT + 1)
    await db.execute("UPDATE rate_limit_counters SET window_ends_at = now() - interval '1 second'")
    assert (await login(client, email)).status_code == 200


async def test_one_address_is_limited_across_accounts(client):
    for _ in range(ADDRESS_LIMIT):
        assert (await login(client, new_email(), "wrong")).status_code == 401
    assert (await login(client, new_email(), "wrong")).status_code == 429


async def test_parallel_guesses_cannot_slip_past_the_limit(client):
    email = (await register(client))["email"]
    answers = await asyncio.gather(*(login(client, email, f"guess-{i}") for i in range(10)))
    codes = sorted(response.status_code for response in answers)
    assert codes == [401] * ACCOUNT_LIMIT + [429] * (10 - ACCOUNT_LIMIT)


async def test_forgot_password_is_limited_too(client):
    email = new_email()
    codes = [(await client.post("/api/auth/password/forgot", json={"email": email})).status_code for _ in range(4)]
    assert codes == [202] * ACCOUNT_LIMIT + [429]


def scope(peer: str, **headers: str) -> dict:
    return {"client": (peer, 5000), "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


def test_proxy_headers_are_ignored_without_trusted_proxies():
    address = ClientAddress(())
    assert address.of(scope("203.0.113.7", **{"X-Forwarded-For": "1.2.3.4", "Fly-Client-IP": "5.6.7.8"})) == (
        "203.0.113.7"
    )


def test_fly_client_ip_is_believed_behind_fly():
    address = ClientAddress(("fly",))
    assert address.of(scope("172.16.0.2", **{"Fly-Client-IP": "198.51.100.9"})) == "198.51.100.9"
    assert address.of(scope("172.16.0.2", **{"Fly-Client-IP": "garbage"})) == "172.16.0.2"


def test_x_forwarded_for_is_read_from_the_right_past_trusted_hops():
    address = ClientAddress(("10.0.0.0/8",))
    spoofed = "6.6.6.6, 198.51.100.9, 10.1.2.3"  # the client wrote 6.6.6.6 itself; its real address was appended
    assert address.of(scope("10.0.0.1", **{"X-Forwarded-For": spoofed})) == "198.51.100.9"
    assert address.of(scope("203.0.113.7", **{"X-Forwarded-For": spoofed})) == "203.0.113.7"  # untrusted peer
    assert address.of(scope("10.0.0.1", **{"X-Forwarded-For": "nonsense, 10.1.2.3"})) == "10.0.0.1"


def test_a_bad_trusted_proxy_setting_names_the_variable():
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        ClientAddress(("not-a-network",))


def test_ipv6_clients_are_counted_per_64():
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert address_bucket("198.51.100.9") == "198.51.100.9"

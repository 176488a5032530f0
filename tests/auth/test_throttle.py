"""Failed-login limits: the attacker is slowed, the owner gets in. Client IPs behind proxies.

The service believes `Fly-Client-IP` here (TRUSTED_PROXIES=fly), so each test picks its client's address. The
throttle's clock is a fake one the tests move, instead of sleeping through the delays.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from service.auth.client_ip import ClientAddress
from service.auth.repository import create_reset_token
from service.auth.service import AuthService
from service.auth.throttle import address_bucket, utc_now
from service.config import ConfigError, Settings
from service.web.services import Services
from tests.auth.helpers import BEARER_MODE, PASSWORD, new_email

FREE = 3
ADDRESS_LIMIT = 12  # above the failures the pair tests make from one address
MAX_DELAY = 60
HOME, OFFICE, ATTACKER = "198.51.100.1", "198.51.100.2", "203.0.113.66"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        trusted_proxies=("fly",),
        login_free_failures=FREE,
        login_max_delay_seconds=MAX_DELAY,
        login_max_failures_per_ip=ADDRESS_LIMIT,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(app, client) -> FakeClock:
    fake = FakeClock()
    Services.of(app).get(AuthService).throttle.clock = fake
    return fake


def at(address: str) -> dict[str, str]:
    return {**BEARER_MODE, "Fly-Client-IP": address}


async def register_at(client, address: str) -> str:
    email = new_email()
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "fullName": "Ada"}, headers=at(address)
    )
    assert response.status_code == 201, response.text
    return email


async def login_at(client, address: str, email: str, password: str = PASSWORD):
    return await client.post("/api/auth/login", json={"email": email, "password": password}, headers=at(address))


async def fail(client, address: str, email: str, times: int) -> list[int]:
    return [(await login_at(client, address, email, "wrong-password")).status_code for _ in range(times)]


def assert_limited(response, retry_after: int | None = None) -> int:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["requestId"]
    wait = int(response.headers["retry-after"])
    assert body["details"] == {"retryAfterSeconds": wait}
    if retry_after is not None:
        assert wait == retry_after
    return wait


# --- the attacker is slowed ------------------------------------------------------------------------------------


async def test_wrong_passwords_from_one_address_wait_twice_as_long_each_time_up_to_the_cap(client, clock):
    email = await register_at(client, HOME)
    assert await fail(client, ATTACKER, email, FREE) == [401] * FREE
    waits = []
    for _ in range(7):
        waits.append(assert_limited(await login_at(client, ATTACKER, email, "guess")))
        clock.advance(waits[-1] - 0.5)
        assert_limited(await login_at(client, ATTACKER, email, "guess"), 1)  # not a moment early
        clock.advance(0.5)
        assert (await login_at(client, ATTACKER, email, "guess")).status_code == 401
    assert waits == [2, 4, 8, 16, 32, MAX_DELAY, MAX_DELAY]


async def test_during_a_delay_even_the_right_password_waits_at_that_address(client, clock):
    email = await register_at(client, HOME)
    await fail(client, OFFICE, email, FREE)
    assert_limited(await login_at(client, OFFICE, email), 2)
    clock.advance(2)
    assert (await login_at(client, OFFICE, email)).status_code == 200
    assert await fail(client, OFFICE, email, FREE) == [401] * FREE  # the success forgave that pair


async def test_a_pair_is_forgotten_a_day_after_its_last_failure(client, clock):
    email = await register_at(client, HOME)
    await fail(client, ATTACKER, email, FREE)
    clock.advance(24 * 3600 + 1)
    assert await fail(client, ATTACKER, email, FREE) == [401] * FREE


async def test_one_address_is_limited_across_accounts_until_its_window_ends(client, clock):
    for _ in range(ADDRESS_LIMIT):
        assert (await login_at(client, ATTACKER, new_email(), "stuffed")).status_code == 401
    wait = assert_limited(await login_at(client, ATTACKER, new_email(), "stuffed"), 15 * 60)
    assert "your address" in (await login_at(client, ATTACKER, new_email(), "x")).json()["message"]
    clock.advance(wait)
    assert (await login_at(client, ATTACKER, new_email(), "stuffed")).status_code == 401


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_burst_of_parallel_guesses_cannot_slip_past_the_free_failures(client, app, clock, concurrency):
    passwords = Services.of(app).get(AuthService).passwords
    passwords._slots = asyncio.Semaphore(concurrency)  # as PASSWORD_HASH_CONCURRENCY
    email = await register_at(client, HOME)
    answers = await asyncio.gather(*(login_at(client, ATTACKER, email, f"guess-{i}") for i in range(20)))
    codes = [response.status_code for response in answers]
    # Only checks that hash at the same moment can pass the limit together; with one slot, none can.
    assert FREE <= codes.count(401) <= FREE + concurrency - 1
    assert codes.count(429) == 20 - codes.count(401)


# --- the owner gets in -----------------------------------------------------------------------------------------


async def test_ten_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(client, clock):
    email = await register_at(client, HOME)
    await fail(client, ATTACKER, email, 10)
    assert (await login_at(client, OFFICE, email)).status_code == 200  # an address it never used before


async def test_the_owners_own_address_skips_the_pair_delays(client, clock):
    email = await register_at(client, HOME)  # registering from it makes it the account's own
    assert await fail(client, HOME, email, FREE + 4) == [401] * (FREE + 4)
    assert (await login_at(client, HOME, email)).status_code == 200


async def test_an_address_is_the_owners_only_for_the_known_address_days(client, clock):
    email = await register_at(client, HOME)
    clock.advance(30 * 24 * 3600 + 1)
    await fail(client, HOME, email, FREE)
    assert_limited(await login_at(client, HOME, email), 2)


async def test_a_flood_of_right_passwords_from_one_address_all_get_in(client, clock):
    emails = [await register_at(client, OFFICE) for _ in range(5)]
    answers = await asyncio.gather(*(login_at(client, HOME, emails[i % 5]) for i in range(60)))
    assert [response.status_code for response in answers] == [200] * 60


async def test_an_address_flooded_by_others_still_lets_its_regular_users_in(client, clock):
    """Behind a proxy without TRUSTED_PROXIES every user shares one address; others' failures must not lock out
    the ones who logged in from it before, nor a brand-new account."""
    regular = await register_at(client, OFFICE)
    for _ in range(ADDRESS_LIMIT):
        await login_at(client, OFFICE, new_email(), "stuffed")
    assert_limited(await login_at(client, OFFICE, new_email(), "stuffed"))
    assert (await login_at(client, OFFICE, regular)).status_code == 200
    newcomer = await register_at(client, OFFICE)
    assert (await login_at(client, OFFICE, newcomer)).status_code == 200


async def test_a_regular_user_over_their_own_free_failures_shares_the_address_limit(client, clock):
    regular = await register_at(client, OFFICE)
    await fail(client, OFFICE, regular, FREE)
    for _ in range(ADDRESS_LIMIT):
        await login_at(client, OFFICE, new_email(), "stuffed")
    assert_limited(await login_at(client, OFFICE, regular))


async def test_a_password_reset_clears_the_accounts_delays(client, clock, db):
    email = await register_at(client, HOME)
    await fail(client, ATTACKER, email, FREE)
    assert_limited(await login_at(client, ATTACKER, email))
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
    token = await create_reset_token(db, user_id, 600)
    reset = await client.post("/api/auth/password/reset", json={"token": token, "password": "a-new-password-77"})
    assert reset.status_code == 204, reset.text
    assert (await login_at(client, ATTACKER, email, "a-new-password-77")).status_code == 200


# --- password-reset mails --------------------------------------------------------------------------------------


async def test_reset_mails_are_limited_per_email(client, clock):
    email = new_email()
    codes = [
        (await client.post("/api/auth/password/forgot", json={"email": email}, headers=at(HOME))).status_code
        for _ in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    clock.advance(3600)
    answer = await client.post("/api/auth/password/forgot", json={"email": email}, headers=at(OFFICE))
    assert answer.status_code == 202


async def test_reset_mails_are_limited_per_address(client, settings, clock):
    for _ in range(settings.password_reset_max_per_ip):
        answer = await client.post("/api/auth/password/forgot", json={"email": new_email()}, headers=at(HOME))
        assert answer.status_code == 202
    limited = await client.post("/api/auth/password/forgot", json={"email": new_email()}, headers=at(HOME))
    assert_limited(limited, 3600)


async def test_invalid_reset_links_are_limited_per_address(client, settings, clock, db):
    def reset(token: str, address: str):
        body = {"token": token, "password": "a-new-password-77"}
        return client.post("/api/auth/password/reset", json=body, headers=at(address))

    for _ in range(settings.password_reset_max_per_ip):
        assert (await reset("made-up-token", ATTACKER)).status_code == 400
    assert_limited(await reset("made-up-token", ATTACKER), 3600)
    email = await register_at(client, HOME)
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
    token = await create_reset_token(db, user_id, 600)
    assert_limited(await reset(token, ATTACKER))  # refused before the token is even looked at
    assert (await reset(token, HOME)).status_code == 204
    clock.advance(3600)
    assert (await reset("made-up-token", ATTACKER)).status_code == 400


# --- client addresses ------------------------------------------------------------------------------------------


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

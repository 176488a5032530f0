"""Access tokens: every forged, broken or stale token is refused with 401, never 500; rotation keeps old ones."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.tokens import key_id
from tests.auth.helpers import bearer

OTHER_SECRET = "another-secret-" + "y" * 40


def claims(user, **overrides) -> dict:
    now = int(time.time())
    payload = {
        "sub": str(user.id),
        "sid": str(uuid.uuid4()),
        "role": user.role,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": "reachimpact",
        "aud": "reachimpact-api",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def sign_raw(header: dict, payload: dict, secret: str) -> str:
    """HS256 by hand, for headers pyjwt refuses to write."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def sign(payload: dict, secret: str, *, algorithm: str = "HS256", kid: object = "current") -> str:
    headers = {} if kid is None else {"kid": key_id(secret) if kid == "current" else kid}
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


async def status_of(client, token: str) -> tuple[int, str]:
    response = await client.get("/api/auth/verify", headers=bearer(token))
    return response.status_code, response.json().get("code", "")


async def test_the_issued_token_works_and_names_the_user(client, make_user):
    user = await make_user()
    response = await client.get("/api/auth/verify", headers=user.headers)
    assert response.status_code == 200
    assert response.json()["id"] == str(user.id)
    header = jwt.get_unverified_header(user.token)
    assert header["alg"] == "HS256" and header["kid"]
    assert set(jwt.decode(user.token, options={"verify_signature": False})) >= {
        "sub", "sid", "role", "iat", "exp", "jti", "iss", "aud",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        pytest.param(lambda u, s: sign(claims(u, exp=int(time.time()) - 5), s), "session_expired", id="expired"),
        pytest.param(lambda u, s: sign(claims(u), OTHER_SECRET, kid=key_id(s)), "invalid_token", id="wrong-key"),
        pytest.param(lambda u, s: sign(claims(u), OTHER_SECRET), "invalid_token", id="unknown-kid"),
        pytest.param(
            lambda u, s: sign_raw({"alg": "HS256", "kid": ["x"]}, claims(u), s), "invalid_token", id="kid-not-a-string"
        ),
        pytest.param(
            lambda u, s: sign(claims(u), s, algorithm="HS512"),
            "invalid_token",
            id="other-hmac-alg",
            # The forger's key is short for HS512; pyjwt's warning about it is beside the point here.
            marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
        ),
        pytest.param(
            lambda u, s: f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': key_id(s)})}.{b64(claims(u))}.",
            "invalid_token",
            id="alg-none",
        ),
        pytest.param(
            # Algorithm confusion: an RS256 header hoping the HMAC secret gets used as a public key.
            lambda u, s: f"{b64({'alg': 'RS256', 'kid': key_id(s)})}.{b64(claims(u))}.c2lnbmF0dXJl",
            "invalid_token",
            id="alg-confusion-rs256",
        ),
        pytest.param(lambda u, s: sign(claims(u, aud="someone-else"), s), "invalid_token", id="wrong-audience"),
        pytest.param(lambda u, s: sign(claims(u, iss="evil"), s), "invalid_token", id="wrong-issuer"),
        pytest.param(lambda u, s: sign(claims(u, jti=None), s), "invalid_token", id="missing-claim"),
        pytest.param(lambda u, s: sign(claims(u, sub="not-a-uuid"), s), "invalid_token", id="sub-not-an-id"),
        pytest.param(lambda u, s: "not.a.jwt", "invalid_token", id="garbage"),
    ],
)
async def test_refused_tokens(client, make_user, settings, forge, code):
    user = await make_user()
    assert await status_of(client, forge(user, settings.jwt_secret)) == (401, code)


async def test_a_tampered_token_is_refused(client, make_user):
    user = await make_user()
    header, payload, signature = user.token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["role"] = "admin"
    assert await status_of(client, f"{header}.{b64(body)}.{signature}") == (401, "invalid_token")


async def test_missing_or_malformed_authorization_is_401(client):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        response = await client.get("/api/auth/verify", headers=headers)
        assert response.status_code == 401
        assert response.json()["message"]


async def test_tokens_signed_by_a_previous_key_verify_during_rotation(settings, make_user):
    user = await make_user()
    old_token = sign(claims(user), OTHER_SECRET)
    rotated = dataclasses.replace(settings, jwt_secret="rotated-secret-" + "z" * 40,
                                  jwt_previous_secrets=(OTHER_SECRET,))  # fmt: skip
    async with AsyncTestClient(app=create_app(rotated)) as client:
        assert (await client.get("/api/auth/verify", headers=bearer(old_token))).status_code == 200


async def test_a_cached_token_is_still_refused_once_expired(client, make_user, settings):
    user = await make_user()
    token = sign(claims(user, sid=str(uuid.uuid4()), exp=int(time.time()) + 2), settings.jwt_secret)
    assert (await status_of(client, token))[0] == 200  # now cached
    await asyncio.sleep(2.1)
    assert await status_of(client, token) == (401, "session_expired")

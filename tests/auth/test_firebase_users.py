"""Users imported from Firebase log in with their old passwords and leave holding argon2id."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings
from service.db.models.base import uuid7
from tests.auth.helpers import login
from tests.auth.test_firebase_hash import CONFIG_JSON, HASH, PASSWORD, SALT, urlsafe

EMAIL = "imported@example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, firebase_hash_config=CONFIG_JSON)


async def imported_user(db, *, hash_: str | None = HASH, salt: str | None = SALT, reset_required: bool = False):
    await db.execute(
        """
        INSERT INTO users (id, email, full_name, firebase_id, legacy_password_hash, legacy_password_salt,
                           password_reset_required, auth_providers)
        VALUES ($1, $2, 'Imported', 'fb-uid-1', $3, $4, $5, '{password}')
        """,
        uuid7(), EMAIL, hash_, salt, reset_required,
    )  # fmt: skip


async def password_columns(db) -> tuple:
    return tuple(
        await db.fetchrow(
            "SELECT password_hash, legacy_password_hash, legacy_password_salt FROM users WHERE email = $1", EMAIL
        )
    )


@pytest.mark.parametrize("encode", [lambda value: value, urlsafe], ids=["standard-base64", "urlsafe-base64"])
async def test_the_old_password_works_once_and_is_replaced_by_argon2id(client, db, encode):
    await imported_user(db, hash_=encode(HASH), salt=encode(SALT))
    response = await login(client, EMAIL, PASSWORD)
    assert response.status_code == 200, response.text
    new_hash, legacy_hash, legacy_salt = await password_columns(db)
    assert new_hash.startswith("$argon2id$")
    assert legacy_hash is None and legacy_salt is None
    assert (await login(client, EMAIL, PASSWORD)).status_code == 200  # now through argon2id


async def test_a_wrong_password_changes_nothing(client, db):
    await imported_user(db)
    before = await password_columns(db)
    response = await login(client, EMAIL, "user1password-not")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert await password_columns(db) == before


@pytest.mark.parametrize(
    ("hash_", "salt"),
    [(None, None), ("UkVEQUNURUQ=", SALT), (HASH, "not base64!")],
    ids=["no-hash", "redacted-by-the-admin-sdk", "garbled-salt"],
)
async def test_a_user_without_a_usable_hash_is_pointed_to_the_password_reset(client, db, hash_, salt):
    await imported_user(db, hash_=hash_, salt=salt, reset_required=hash_ is None)
    response = await login(client, EMAIL, "anything")
    assert response.status_code == 401
    assert response.json()["code"] == "password_reset_required"
    assert "Forgot password" in response.json()["message"]


async def test_without_the_hash_config_a_legacy_hash_is_not_usable(settings, db):
    await imported_user(db)
    async with AsyncTestClient(app=create_app(dataclasses.replace(settings, firebase_hash_config=None))) as client:
        response = await login(client, EMAIL, PASSWORD)
    assert response.json()["code"] == "password_reset_required"
    assert (await password_columns(db))[1] == HASH

"""GET/PUT /api/user/profile: every profile field, partial updates, and the e-mail change rule."""

from __future__ import annotations

import pytest

from tests.auth.helpers import PASSWORD, bearer, login, new_email, register

EVERY_FIELD = {
    "fullName": "Grace Hopper",
    "companyName": "Navy",
    "phoneNumber": "+33 6 12 34 56 78",
    "industry": "Computing",
    "preferredLanguage": "en-US",
    "companyDescription": "Compilers",
    "companyWebsite": "navy.example",
    "productsServices": "COBOL",
    "targetMarket": "Everyone",
    "salesPitch": "It's easier to ask forgiveness",
    "profilePicture": "https://cdn.example.com/grace.png",
}


async def test_get_profile_returns_the_callers_user(client, make_user):
    user = await make_user(credits=7)
    response = await client.get("/api/user/profile", headers=user.headers)
    assert response.status_code == 200
    profile = response.json()
    assert profile["id"] == str(user.id) and profile["email"] == user.email and profile["aiCredits"] == 7
    assert "passwordHash" not in profile and "disabled" not in profile


async def test_every_profile_field_can_be_written_and_read_back(client, make_user):
    user = await make_user()
    response = await client.put("/api/user/profile", json=EVERY_FIELD, headers=user.headers)
    assert response.status_code == 200
    expected = EVERY_FIELD | {"phoneNumber": "+33612345678"}
    assert {key: response.json()[key] for key in EVERY_FIELD} == expected
    again = (await client.get("/api/user/profile", headers=user.headers)).json()
    assert {key: again[key] for key in EVERY_FIELD} == expected


async def test_absent_fields_stay_and_null_clears(client, make_user):
    user = await make_user()
    await client.put("/api/user/profile", json=EVERY_FIELD, headers=user.headers)
    response = await client.put("/api/user/profile", json={"industry": None}, headers=user.headers)
    assert response.json()["industry"] is None
    assert response.json()["companyName"] == "Navy"
    refused = await client.put("/api/user/profile", json={"industry": "x", "role": "admin"}, headers=user.headers)
    assert refused.status_code == 400 and "role" in refused.json()["message"]
    assert (await client.get("/api/user/profile", headers=user.headers)).json()["role"] == "customer"


async def test_another_users_profile_is_untouched(client, make_user):
    user, other = await make_user(), await make_user()
    await client.put("/api/user/profile", json={"companyName": "Mine"}, headers=user.headers)
    assert (await client.get("/api/user/profile", headers=other.headers)).json()["companyName"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"fullName": ""},
        {"fullName": None},
        {"phone": "12"},
        {"profilePicture": "javascript:alert(1)"},
        {"companyName": "x" * 201},
        {"salesPitch": 42},
        {"email": "not-an-email", "currentPassword": PASSWORD},
    ],
)
async def test_bad_values_are_400_and_nothing_changes(client, make_user, db, change):
    user = await make_user()
    before = dict(await db.fetchrow("SELECT * FROM users WHERE id = $1", user.id))
    response = await client.put("/api/user/profile", json=change, headers=user.headers)
    assert response.status_code == 400
    assert response.json()["message"]
    assert dict(await db.fetchrow("SELECT * FROM users WHERE id = $1", user.id)) == before


async def test_changing_the_email_needs_the_current_password(client):
    body = await register(client)
    headers = bearer(body["token"])
    new_address = new_email()

    missing = await client.put("/api/user/profile", json={"email": new_address}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["code"] == "current_password_required"
    wrong = await client.put("/api/user/profile", json={"email": new_address, "currentPassword": "no"}, headers=headers)
    assert wrong.status_code == 401

    changed = await client.put(
        "/api/user/profile", json={"email": new_address.upper(), "currentPassword": PASSWORD}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.json()["email"] == new_address
    assert changed.json()["emailVerified"] is False
    assert (await login(client, new_address)).status_code == 200


async def test_the_same_email_needs_no_password_and_a_taken_one_is_409(client):
    body = await register(client)
    taken = (await register(client))["email"]
    headers = bearer(body["token"])
    same = await client.put("/api/user/profile", json={"email": body["email"]}, headers=headers)
    assert same.status_code == 200
    clash = await client.put("/api/user/profile", json={"email": taken, "currentPassword": PASSWORD}, headers=headers)
    assert clash.status_code == 409
    assert clash.json()["code"] == "email_taken"


async def test_the_profile_needs_authentication(client):
    assert (await client.get("/api/user/profile")).status_code == 401
    assert (await client.put("/api/user/profile", json={"companyName": "x"})).status_code == 401

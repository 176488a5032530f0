"""Single-contact routes: create, read, replace, patch, soft delete, and their bad-input answers."""

import uuid

import pytest

CONTACT_KEYS = {
    "id",
    "userId",
    "firstName",
    "lastName",
    "fullName",
    "email",
    "phoneNumber",
    "companyName",
    "jobTitle",
    "industry",
    "notes",
    "tags",
    "source",
    "status",
    "timezone",
    "createdAt",
    "updatedAt",
}


async def test_create_normalises_and_answers_the_contact(client, db, owner):
    body = {
        "firstName": " Ada ",
        "lastName": "Lovelace",
        "phone": "(415) 555-0100",
        "email": "Ada@Example.COM",
        "companyName": "Analytical Engines",
        "jobTitle": "Mathematician",
        "tags": ["vip", " vip", ""],
        "notes": "met at the exhibition",
        "status": "interested",
    }
    response = await client.post("/api/contacts", json=body, headers=owner.headers)

    assert response.status_code == 201
    contact = response.json()
    assert set(contact) == CONTACT_KEYS
    assert contact["firstName"] == "Ada"
    assert contact["fullName"] == "Ada Lovelace"
    assert contact["phoneNumber"] == "+14155550100"
    assert contact["email"] == "ada@example.com"
    assert contact["companyName"] == "Analytical Engines"
    assert contact["tags"] == ["vip"]
    assert contact["status"] == "interested"
    assert contact["timezone"] == "America/Los_Angeles"
    assert contact["userId"] == str(owner.id)
    row = await db.fetchrow("SELECT * FROM contacts WHERE id = $1", uuid.UUID(contact["id"]))
    assert row["user_id"] == owner.id
    assert row["phone"] == "+14155550100"
    assert row["company"] == "Analytical Engines"
    assert row["extra"] == {}


async def test_full_name_alone_is_split(client, owner):
    response = await client.post(
        "/api/contacts", json={"fullName": "Grace Brewster Hopper", "phone": "+442079460958"}, headers=owner.headers
    )
    assert response.status_code == 201
    contact = response.json()
    assert (contact["firstName"], contact["lastName"]) == ("Grace", "Brewster Hopper")
    assert contact["timezone"] == "Europe/London"
    assert contact["status"] == "new"


async def test_an_explicit_timezone_wins_over_the_number(client, owner):
    body = {"firstName": "A", "phone": "+14155550100", "timezone": "Europe/Paris"}
    response = await client.post("/api/contacts", json=body, headers=owner.headers)
    assert response.json()["timezone"] == "Europe/Paris"


async def test_a_duplicate_single_create_is_accepted(create_contact, db, owner):
    await create_contact(email="same@example.com")
    await create_contact(email="same@example.com")
    assert await db.fetchval("SELECT count(*) FROM contacts WHERE user_id = $1", owner.id) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firstName": "A", "phone": "not a number"}, "phone"),
        ({"firstName": "A", "phone": "12"}, "phone"),
        ({"firstName": "A", "email": "nobody"}, "email"),
        ({"firstName": "A", "timezone": "Mars/Olympus"}, "timezone"),
        ({"firstName": 42}, "firstName"),
        ({"firstName": "A", "tags": "vip"}, "tags"),
        ({"firstName": "A", "tags": ["ok", 3]}, "tags[1]"),
        ({"firstName": "A", "status": "hot"}, "status"),
        ({"notes": "nobody to call"}, "contact"),
    ],
)
async def test_bad_input_is_400_naming_the_field(client, db, owner, body, field):
    response = await client.post("/api/contacts", json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    assert field in error["message"]
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0


async def test_a_body_that_is_not_json_is_400(client, owner):
    response = await client.post(
        "/api/contacts", content=b"{not json", headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_get_by_id(client, create_contact, owner):
    created = await create_contact()
    response = await client.get(f"/api/contacts/{created['id']}", headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("contact_id", ["0190f2c4-1111-7222-8333-444455556666", "not-a-uuid", "search-ish"])
async def test_an_unknown_id_is_404(client, owner, contact_id):
    response = await client.get(f"/api/contacts/{contact_id}", headers=owner.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_put_changes_only_the_fields_sent(client, create_contact, owner):
    created = await create_contact(email="a@example.com", company="Acme", tags=["x"])
    response = await client.put(
        f"/api/contacts/{created['id']}", json={"firstName": "Augusta", "phone": "+33123456789"}, headers=owner.headers
    )
    assert response.status_code == 200
    contact = response.json()
    assert contact["firstName"] == "Augusta"
    assert (contact["email"], contact["companyName"], contact["tags"]) == ("a@example.com", "Acme", ["x"])
    assert contact["timezone"] == "Europe/Paris"
    assert contact["createdAt"] == created["createdAt"]
    assert contact["updatedAt"] >= created["updatedAt"]


async def test_an_unknown_field_is_400_naming_it(client, create_contact, owner):
    created = await create_contact()
    response = await client.put(f"/api/contacts/{created['id']}", json={"colour": "red"}, headers=owner.headers)
    assert response.status_code == 400
    assert "colour" in response.json()["message"]


async def test_patch_changes_only_what_is_sent(client, create_contact, db, owner):
    created = await create_contact(email="a@example.com", company="Acme")
    response = await client.patch(
        f"/api/contacts/{created['id']}", json={"status": "contacted", "notes": "left a message"}, headers=owner.headers
    )
    assert response.status_code == 200
    contact = response.json()
    assert (contact["status"], contact["notes"]) == ("contacted", "left a message")
    assert (contact["email"], contact["companyName"], contact["phoneNumber"]) == (
        "a@example.com",
        "Acme",
        "+14155550100",
    )
    row = await db.fetchrow("SELECT status, notes FROM contacts WHERE id = $1", uuid.UUID(created["id"]))
    assert tuple(row) == ("contacted", "left a message")


async def test_patch_with_a_new_number_moves_the_timezone(client, create_contact, owner):
    created = await create_contact()
    path = f"/api/contacts/{created['id']}"
    response = await client.patch(path, json={"phone": "+12025550123"}, headers=owner.headers)
    assert response.json()["timezone"] == "America/New_York"


async def test_a_bad_patch_changes_nothing(client, create_contact, db, owner):
    created = await create_contact()
    response = await client.patch(
        f"/api/contacts/{created['id']}", json={"firstName": "B", "phone": "nope"}, headers=owner.headers
    )
    assert response.status_code == 400
    assert await db.fetchval("SELECT first_name FROM contacts WHERE id = $1", uuid.UUID(created["id"])) == "Ada"


async def test_delete_is_soft_and_keeps_call_history(client, create_contact, db, owner):
    created = await create_contact()
    contact_id = uuid.UUID(created["id"])
    await db.execute(
        "INSERT INTO calls (id, user_id, contact_id) VALUES (gen_random_uuid(), $1, $2)", owner.id, contact_id
    )

    response = await client.delete(f"/api/contacts/{contact_id}", headers=owner.headers)

    assert response.status_code == 200 and response.json() == {"id": str(contact_id), "deleted": True}
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM contacts WHERE id = $1", contact_id)
    assert await db.fetchval("SELECT contact_id FROM calls WHERE user_id = $1", owner.id) == contact_id
    assert (await client.get(f"/api/contacts/{contact_id}", headers=owner.headers)).status_code == 404
    assert (await client.get("/api/contacts", headers=owner.headers)).json() == []
    assert (await client.delete(f"/api/contacts/{contact_id}", headers=owner.headers)).status_code == 404
    assert (await client.patch(f"/api/contacts/{contact_id}", json={}, headers=owner.headers)).status_code == 404


async def test_routes_need_a_token(client):
    assert (await client.get("/api/contacts")).status_code == 401
    assert (await client.post("/api/contacts", json={"firstName": "A"})).status_code == 401

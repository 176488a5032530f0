"""POST /api/contacts/bulk: one statement, all or nothing by default, duplicates reported, never doubled."""


def person(i, **fields):
    return {"firstName": f"F{i}", "phone": f"+1415555{i:04d}", "email": f"p{i}@example.com", **fields}


async def count(db, owner):
    return await db.fetchval("SELECT count(*) FROM contacts WHERE user_id = $1", owner.id)


async def test_bulk_inserts_and_reports(client, db, owner):
    contacts = [person(i) for i in range(3)]
    response = await client.post("/api/contacts/bulk", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 201
    assert response.json() == {"inserted": 3, "duplicates": 0, "rejected": [], "rejectedCount": 0}
    rows = await db.fetch(
        "SELECT first_name, phone, timezone FROM contacts WHERE user_id = $1 ORDER BY phone", owner.id
    )
    assert [tuple(r) for r in rows] == [(f"F{i}", f"+1415555{i:04d}", "America/Los_Angeles") for i in range(3)]


async def test_duplicates_within_the_batch_and_the_owners_contacts_are_skipped(client, db, owner, create_contact):
    await create_contact(phone="+14155550001", email="taken@example.com")
    contacts = [
        person(0),
        person(1),  # same phone as the existing contact
        person(2, email="TAKEN@example.com"),  # same e-mail, other case
        person(3, phone="(415) 555-0000"),  # same phone as row 0, other format
        person(4),
    ]
    response = await client.post("/api/contacts/bulk", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 201
    assert response.json() == {"inserted": 2, "duplicates": 3, "rejected": [], "rejectedCount": 0}
    assert await count(db, owner) == 3


async def test_another_owners_contacts_are_not_duplicates(client, db, owner, make_user):
    other = await make_user()
    await client.post("/api/contacts/bulk", json={"contacts": [person(0)]}, headers=other.headers)
    response = await client.post("/api/contacts/bulk", json={"contacts": [person(0)]}, headers=owner.headers)
    assert response.json()["inserted"] == 1


async def test_one_bad_row_rejects_the_whole_batch(client, db, owner):
    contacts = [person(0), person(1, phone="nope"), person(2, firstName=7), "not an object"]
    response = await client.post("/api/contacts/bulk", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "rejected_rows"
    # The one details shape: each rejected row is a field named by its index.
    assert [d["field"] for d in error["details"]] == ["rows[1]", "rows[2]", "rows[3]"]
    assert "phone" in error["details"][0]["message"]
    assert "firstName" in error["details"][1]["message"]
    assert await count(db, owner) == 0


async def test_partial_keeps_the_good_rows(client, db, owner):
    contacts = [person(0), person(1, phone="nope"), person(2)]
    response = await client.post("/api/contacts/bulk?partial=true", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 201
    report = response.json()
    assert (report["inserted"], report["duplicates"], report["rejectedCount"]) == (2, 0, 1)
    assert report["rejected"][0]["index"] == 1
    assert await count(db, owner) == 2


async def test_ten_thousand_in_one_request(client, db, owner):
    contacts = [{"firstName": "F", "phone": f"+1212{i:07d}"} for i in range(10_000)]
    response = await client.post("/api/contacts/bulk", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 201
    assert response.json()["inserted"] == 10_000
    assert await count(db, owner) == 10_000


async def test_more_than_ten_thousand_is_400(client, db, owner):
    contacts = [{"firstName": "F"}] * 10_001
    response = await client.post("/api/contacts/bulk", json={"contacts": contacts}, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "contacts"
    assert await count(db, owner) == 0


async def test_a_body_without_contacts_is_400(client, owner):
    response = await client.post("/api/contacts/bulk", json={"people": []}, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "contacts"

"""Campaign routes: CRUD, the status machine, membership and stats computed on read."""

import uuid

import pytest

CAMPAIGN_KEYS = {
    "id",
    "userId",
    "name",
    "description",
    "industry",
    "type",
    "script",
    "language",
    "translationEnabled",
    "responseLanguage",
    "startDate",
    "endDate",
    "status",
    "createdAt",
    "updatedAt",
    "contactIds",
    "totalContacts",
    "callsMade",
    "appointmentsSet",
    "conversionRate",
}


@pytest.fixture
async def owner(make_user):
    return await make_user()


@pytest.fixture
def new_contact(client, owner):
    async def create(phone="+14155550100"):
        response = await client.post("/api/contacts", json={"firstName": "C", "phone": phone}, headers=owner.headers)
        return response.json()["id"]

    return create


@pytest.fixture
def new_campaign(client, owner):
    async def create(**fields):
        response = await client.post("/api/campaigns", json={"name": "Spring", **fields}, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return create


async def test_create_answers_the_campaign_with_stats(client, db, owner, new_contact):
    contact = await new_contact()
    body = {
        "name": "Spring",
        "description": "d",
        "industry": "retail",
        "type": "outbound",
        "script": "Hello",
        "language": "en",
        "translationEnabled": True,
        "responseLanguage": "fr",
        "startDate": "2026-03-01",
        "endDate": "2026-04-01T12:00:00Z",
        "contactIds": [contact, contact],
    }
    response = await client.post("/api/campaigns", json=body, headers=owner.headers)
    assert response.status_code == 201
    campaign = response.json()
    assert set(campaign) == CAMPAIGN_KEYS
    assert campaign["status"] == "draft"
    assert campaign["startDate"].startswith("2026-03-01T00:00:00")
    assert campaign["contactIds"] == [contact]
    assert (campaign["totalContacts"], campaign["callsMade"], campaign["appointmentsSet"]) == (1, 0, 0)
    assert campaign["conversionRate"] == 0
    row = await db.fetchrow(
        "SELECT user_id, name, translation_enabled FROM campaigns WHERE id = $1", uuid.UUID(campaign["id"])
    )
    assert tuple(row) == (owner.id, "Spring", True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x", "startDate": "next tuesday"}, "startDate"),
        ({"name": "x", "startDate": "2026-05-01", "endDate": "2026-04-01"}, "endDate"),
        ({"name": "x", "translationEnabled": "yes"}, "translationEnabled"),
        ({"name": "x", "status": "running"}, "status"),
        ({"name": "x", "contactIds": ["not-a-uuid"]}, "contactIds[0]"),
    ],
)
async def test_bad_campaigns_are_400_and_write_nothing(client, db, owner, body, field):
    response = await client.post("/api/campaigns", json=body, headers=owner.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0


async def test_stats_are_computed_from_calls(client, db, owner, new_campaign, new_contact):
    contacts = [await new_contact(f"+1415555010{i}") for i in range(3)]
    campaign = await new_campaign(contactIds=contacts)
    campaign_id = uuid.UUID(campaign["id"])
    placed = [
        ("completed", "appointment_set"),
        ("no-answer", "no_answer"),
        ("completed", "voicemail"),
        ("ringing", None),
    ]
    # The last one is a dialer attempt claimed but not sent yet: not a call made (it may never be).
    for status, outcome in [*placed, ("queued", None)]:
        await db.execute(
            "INSERT INTO calls (id, user_id, campaign_id, status, outcome, twilio_sid) "
            "VALUES (gen_random_uuid(), $1, $2, $3, $4, "
            "CASE WHEN $3 = 'queued' THEN NULL ELSE gen_random_uuid()::text END)",
            owner.id,
            campaign_id,
            status,
            outcome,
        )
    await client.delete(f"/api/contacts/{contacts[0]}", headers=owner.headers)

    response = await client.get(f"/api/campaigns/{campaign_id}", headers=owner.headers)

    stats = response.json()
    assert (stats["totalContacts"], stats["callsMade"], stats["appointmentsSet"]) == (2, 4, 1)
    assert stats["conversionRate"] == 25.0
    assert stats["contactIds"] == contacts[1:]


async def test_list_is_newest_first_with_pages_and_a_status_filter(client, owner, new_campaign):
    for name in ("a", "b", "c"):
        await new_campaign(name=name)
    page = await client.get("/api/campaigns?limit=2", headers=owner.headers)
    assert [c["name"] for c in page.json()] == ["c", "b"]
    rest = await client.get(f"/api/campaigns?limit=2&cursor={page.headers['x-next-cursor']}", headers=owner.headers)
    assert [c["name"] for c in rest.json()] == ["a"]
    assert "link" not in rest.headers
    drafts = await client.get("/api/campaigns?status=draft", headers=owner.headers)
    assert len(drafts.json()) == 3
    assert (await client.get("/api/campaigns?status=active", headers=owner.headers)).json() == []
    assert (await client.get("/api/campaigns?status=nope", headers=owner.headers)).status_code == 400


async def test_put_changes_only_what_is_sent_and_replaces_membership(client, owner, new_campaign, new_contact):
    a, b = await new_contact("+14155550101"), await new_contact("+14155550102")
    campaign = await new_campaign(description="keep me", contactIds=[a])
    response = await client.put(
        f"/api/campaigns/{campaign['id']}", json={"name": "Summer", "contactIds": [b]}, headers=owner.headers
    )
    assert response.status_code == 200
    updated = response.json()
    assert (updated["name"], updated["description"], updated["contactIds"]) == ("Summer", "keep me", [b])


async def test_the_status_machine(client, owner, new_campaign, new_contact):
    campaign = await new_campaign(contactIds=[await new_contact()], script="Hi, this is Ada")
    path = f"/api/campaigns/{campaign['id']}"

    async def act(action):
        return await client.post(f"{path}/{action}", headers=owner.headers)

    assert (await act("pause")).status_code == 409
    assert (await act("complete")).status_code == 409
    started = await act("start")
    assert (started.status_code, started.json()["status"]) == (200, "active")
    again = await act("start")
    assert again.status_code == 409
    assert again.json()["message"] == "The campaign is already active"
    assert (await act("pause")).json()["status"] == "paused"
    assert (await act("start")).json()["status"] == "active"
    assert (await act("pause")).json()["status"] == "paused"
    assert (await act("complete")).json()["status"] == "completed"
    for action in ("start", "pause", "complete"):
        refused = await act(action)
        assert refused.status_code == 409
        assert refused.json()["code"] == "invalid_transition"
    assert (await client.get(path, headers=owner.headers)).json()["status"] == "completed"


async def test_an_active_campaign_may_complete(client, owner, new_campaign, new_contact):
    campaign = await new_campaign(contactIds=[await new_contact()], script="Hi", status="active")
    assert campaign["status"] == "active"
    response = await client.post(f"/api/campaigns/{campaign['id']}/complete", headers=owner.headers)
    assert response.json()["status"] == "completed"


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"script": "Hi"}, "contacts_required"), ({"script": "  "}, "script_required"), ({}, "script_required")],
)
async def test_start_needs_a_script_and_a_contact(client, db, owner, new_campaign, new_contact, fields, code):
    if code != "contacts_required":
        fields["contactIds"] = [await new_contact()]
    campaign = await new_campaign(**fields)
    response = await client.post(f"/api/campaigns/{campaign['id']}/start", headers=owner.headers)
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert await db.fetchval("SELECT status FROM campaigns") == "draft"


async def test_a_deleted_contact_does_not_count_for_start(client, owner, new_campaign, new_contact):
    contact = await new_contact()
    campaign = await new_campaign(contactIds=[contact], script="Hi")
    await client.delete(f"/api/contacts/{contact}", headers=owner.headers)
    response = await client.post(f"/api/campaigns/{campaign['id']}/start", headers=owner.headers)
    assert response.json()["code"] == "contacts_required"


async def test_status_in_put_goes_through_the_machine(client, db, owner, new_campaign):
    campaign = await new_campaign(script="Hi")
    response = await client.put(
        f"/api/campaigns/{campaign['id']}", json={"name": "Renamed", "status": "active"}, headers=owner.headers
    )
    assert response.status_code == 409
    assert await db.fetchval("SELECT name FROM campaigns") == "Spring"


async def test_membership_routes(client, db, owner, new_campaign, new_contact):
    a, b, c = [await new_contact(f"+1415555010{i}") for i in range(3)]
    campaign = await new_campaign(contactIds=[a])
    path = f"/api/campaigns/{campaign['id']}/contacts"

    added = await client.post(path, json={"contactIds": [b, c, b]}, headers=owner.headers)
    assert added.status_code == 200
    assert added.json()["totalContacts"] == 3

    members = await client.get(f"{path}?limit=2", headers=owner.headers)
    assert [m["id"] for m in members.json()] == [c, b]
    assert "x-next-cursor" in members.headers

    removed = await client.request("DELETE", path, json={"contactIds": [a, c]}, headers=owner.headers)
    assert removed.status_code == 200
    assert removed.json()["contactIds"] == [b]
    assert await db.fetchval("SELECT count(*) FROM campaign_contacts") == 1


async def test_unknown_contact_ids_link_nothing(client, db, owner, new_campaign, new_contact):
    campaign = await new_campaign()
    path = f"/api/campaigns/{campaign['id']}/contacts"
    response = await client.post(
        path, json={"contactIds": [await new_contact(), str(uuid.uuid4())]}, headers=owner.headers
    )
    assert response.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM campaign_contacts") == 0


async def test_a_completed_campaigns_members_are_frozen(client, owner, new_campaign, new_contact):
    a, b = await new_contact("+14155550101"), await new_contact("+14155550102")
    campaign = await new_campaign(contactIds=[a], script="Hi", status="active")
    path = f"/api/campaigns/{campaign['id']}"
    await client.post(f"{path}/complete", headers=owner.headers)
    assert (await client.post(f"{path}/contacts", json={"contactIds": [b]}, headers=owner.headers)).status_code == 409
    unchanged = await client.put(path, json={"description": "done", "contactIds": [a]}, headers=owner.headers)
    assert unchanged.status_code == 200
    changed = await client.put(path, json={"contactIds": [b]}, headers=owner.headers)
    assert changed.status_code == 409


async def test_delete_is_soft_keeps_calls_and_refuses_active(client, db, owner, new_campaign, new_contact):
    campaign = await new_campaign(contactIds=[await new_contact()], script="Hi", status="active")
    campaign_id = uuid.UUID(campaign["id"])
    await db.execute(
        "INSERT INTO calls (id, user_id, campaign_id) VALUES (gen_random_uuid(), $1, $2)", owner.id, campaign_id
    )
    path = f"/api/campaigns/{campaign_id}"

    refused = await client.delete(path, headers=owner.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "campaign_active")
    await client.post(f"{path}/pause", headers=owner.headers)
    deleted = await client.delete(path, headers=owner.headers)
    assert deleted.status_code == 200 and deleted.json() == {"id": str(campaign_id), "deleted": True}

    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM campaigns WHERE id = $1", campaign_id)
    assert await db.fetchval("SELECT campaign_id FROM calls") == campaign_id
    assert (await client.get(path, headers=owner.headers)).status_code == 404
    assert (await client.get("/api/campaigns", headers=owner.headers)).json() == []

"""The dialer's routes: bad starts schedule nothing, dialing rules, the do-not-call list, the pacing."""

from __future__ import annotations

import uuid

import pytest

from tests.dialer.conftest import SCRIPT


async def scheduled(db) -> tuple[int, int]:
    targets = await db.fetchval("SELECT count(*) FROM dialer_targets")
    jobs = await db.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint LIKE 'dialer.%'")
    return targets, jobs


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"script": None}, "script_required"),
        ({"script": "   "}, "script_required"),
        ({"contactIds": []}, "contacts_required"),
    ],
)
async def test_starting_without_a_script_or_contacts_is_409_and_schedules_nothing(
    client, db, owner, campaign, fields, code
):
    created = await campaign("+14155550101", **fields)
    response = await client.post(f"/api/campaigns/{created['id']}/start", headers=owner.headers)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == code and response.json()["message"]
    assert await scheduled(db) == (0, 0)
    assert await db.fetchval("SELECT status FROM campaigns") == "draft"


async def test_starting_an_unknown_or_someone_elses_campaign_is_404_and_schedules_nothing(
    client, db, owner, campaign, make_user
):
    theirs = await campaign("+14155550101")
    intruder = await make_user(credits=100)
    for campaign_id in (theirs["id"], str(uuid.uuid4()), "not-a-uuid"):
        response = await client.post(f"/api/campaigns/{campaign_id}/start", headers=intruder.headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert await scheduled(db) == (0, 0)
    # Creating a campaign straight into "active" goes through the same rules.
    response = await client.post(
        "/api/campaigns", json={"name": "x", "status": "active", "script": SCRIPT}, headers=owner.headers
    )
    assert response.status_code == 409 and response.json()["code"] == "contacts_required"
    assert await scheduled(db) == (0, 0)


async def test_dialing_rules_default_to_the_tcpa_window_and_change_field_by_field(client, db, owner, campaign):
    created = await campaign("+14155550101")
    path = f"/api/campaigns/{created['id']}/dialing"
    defaults = (await client.get(path, headers=owner.headers)).json()
    assert defaults == {
        "callingStart": "08:00",
        "callingEnd": "21:00",
        "callingDays": [1, 2, 3, 4, 5, 6, 7],
        "retryDelayMinutes": 60,
        "maxAttempts": 3,
        "machineDetection": False,
        "voicemailAction": "hangup",
        "voicemailMessage": None,
    }
    changed = await client.put(path, json={"callingDays": [5, 1, 1], "maxAttempts": 5}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**defaults, "callingDays": [1, 5], "maxAttempts": 5}
    row = await db.fetchrow("SELECT calling_days, max_attempts FROM dialer_rules")
    assert (list(row["calling_days"]), row["max_attempts"]) == ([1, 5], 5)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"callingEnd": "07:00"}, "callingEnd"),  # before the (default) start
        ({"callingStart": "25:00"}, "callingStart"),
        ({"callingDays": [0]}, "callingDays[0]"),
        ({"callingDays": []}, "callingDays"),
        ({"maxAttempts": 11}, "maxAttempts"),
        ({"voicemailAction": "message"}, "voicemailMessage"),
        ({"ringTimeout": 5}, "ringTimeout"),
    ],
)
async def test_bad_dialing_rules_are_400_naming_the_field_and_change_nothing(client, db, owner, campaign, body, field):
    created = await campaign("+14155550101")
    response = await client.put(f"/api/campaigns/{created['id']}/dialing", json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert await db.fetchval("SELECT count(*) FROM dialer_rules") == 0


async def test_the_do_not_call_list_adds_lists_pages_and_removes(client, db, owner, make_user):
    headers = owner.headers
    added = await client.post(
        "/api/do-not-call", json={"phoneNumber": "+1 415 555 0102", "reason": "x"}, headers=headers
    )
    assert (added.status_code, added.json()["phoneNumber"], added.json()["reason"]) == (201, "+14155550102", "x")
    again = await client.post("/api/do-not-call", json={"phoneNumber": "4155550102"}, headers=headers)
    assert (again.status_code, again.json()["reason"]) == (200, "x")  # already listed: the first reason stays
    await client.post("/api/do-not-call", json={"phoneNumber": "+14155550101"}, headers=headers)
    bad = await client.post("/api/do-not-call", json={"phoneNumber": "12"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "phoneNumber"

    first = await client.get("/api/do-not-call?limit=1", headers=headers)
    assert [e["phoneNumber"] for e in first.json()] == ["+14155550101"]
    cursor = first.headers["x-next-cursor"]
    second = await client.get("/api/do-not-call", params={"limit": 1, "after": cursor}, headers=headers)
    assert [e["phoneNumber"] for e in second.json()] == ["+14155550102"]
    assert "x-next-cursor" not in second.headers
    for cursor in ("nope", "-5.05e16", "+1 415", "+0123"):  # not a number this list gave out
        wrong = await client.get("/api/do-not-call", params={"after": cursor}, headers=headers)
        assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_cursor"), cursor

    removed = await client.delete("/api/do-not-call/+14155550101", headers=headers)
    assert removed.status_code == 200 and removed.json() == {"phoneNumber": "+14155550101", "deleted": True}
    assert (await client.delete("/api/do-not-call/+14155550101", headers=headers)).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM do_not_call_numbers") == 1
    other = await make_user()
    assert (await client.get("/api/do-not-call", headers=other.headers)).json() == []


async def test_a_csv_upload_adds_its_numbers_and_reports_duplicates_and_bad_rows(client, db, owner):
    await client.post("/api/do-not-call", json={"phoneNumber": "+14155550101"}, headers=owner.headers)
    csv = "Name,Phone Number\nAda,+14155550101\nBob,(415) 555-0102\nEve,nope\nBob again,415-555-0102\n,\n"
    response = await client.post(
        "/api/do-not-call/import?reason=import", files={"file": ("dnc.csv", csv, "text/csv")}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "added": 1,
        "duplicates": 2,
        "rejected": [{"index": 2, "reason": "'nope' is not a complete phone number"}],
        "rejectedCount": 1,
    }
    rows = await db.fetch("SELECT phone, reason FROM do_not_call_numbers ORDER BY phone")
    assert [tuple(r) for r in rows] == [("+14155550101", None), ("+14155550102", "import")]
    # A bare list of numbers, one per line, as the raw body.
    bare = await client.post(
        "/api/do-not-call/import",
        content="+14155550103\n+14155550104\n",
        headers={**owner.headers, "content-type": "text/csv"},
    )
    assert bare.status_code == 201 and bare.json()["added"] == 2


async def test_a_file_without_a_single_number_is_refused_and_adds_nothing(client, db, owner):
    for body in ('{"not": "a csv of numbers"}\n', "Name,Phone\nAda,nope\n"):
        response = await client.post(
            "/api/do-not-call/import", content=body, headers={**owner.headers, "content-type": "text/csv"}
        )
        assert response.status_code == 400, response.text
        assert "the file holds no phone numbers" in response.json()["message"]
    assert "1 rows are not complete phone numbers" in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM do_not_call_numbers") == 0


async def test_pacing_is_for_administrators(client, db, make_user):
    admin, customer = await make_user(role="admin"), await make_user()
    assert (await client.get("/api/admin/dialer/pacing", headers=customer.headers)).status_code == 403
    refused = await client.put(
        "/api/admin/dialer/pacing", json={"callsPerSecond": 50, "maxConcurrent": 200}, headers=customer.headers
    )
    assert refused.status_code == 403
    defaults = (await client.get("/api/admin/dialer/pacing", headers=admin.headers)).json()
    assert (defaults["callsPerSecond"], defaults["maxConcurrent"]) == (1.0, 10)  # Twilio's default: 1 call/s
    bad = await client.put(
        "/api/admin/dialer/pacing", json={"callsPerSecond": 0, "maxConcurrent": 1}, headers=admin.headers
    )
    assert bad.status_code == 400 and "callsPerSecond" in bad.text
    changed = await client.put(
        "/api/admin/dialer/pacing", json={"callsPerSecond": 50, "maxConcurrent": 200}, headers=admin.headers
    )
    assert changed.status_code == 200 and changed.json()["callsPerSecond"] == 50.0
    assert await db.fetchval("SELECT max_concurrent FROM dialer_pacing") == 200


async def test_a_csv_upload_reads_the_delimiter_and_encoding_as_the_contact_import_does(client, db, owner):
    semicolons = "Name;Mobile\nZoë;+14155550105\n".encode("cp1252")
    response = await client.post(
        "/api/do-not-call/import", content=semicolons, headers={**owner.headers, "content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["added"] == 1
    # 0x81 is no character in UTF-8 nor in Windows-1252: refused, nothing added.
    unreadable = await client.post(
        "/api/do-not-call/import",
        content=b"phone\n\x81+14155550106\n",
        headers={**owner.headers, "content-type": "text/csv"},
    )
    assert unreadable.status_code == 400, unreadable.text
    assert "not a readable CSV file" in unreadable.json()["message"]
    assert await db.fetchval("SELECT array_agg(phone) FROM do_not_call_numbers") == ["+14155550105"]

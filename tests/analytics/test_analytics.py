"""Analytics figures checked exactly on a known set of calls, including time-zone bucket edges and DST days."""

from __future__ import annotations

from datetime import datetime

import pytest

AMS = "Europe/Amsterdam"  # CET/CEST: spring forward 2026-03-29 02:00, fall back 2026-10-25 03:00


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def add_call(db, user, at, status="completed", outcome=None, duration=0, campaign=None, contact=None):
    await db.execute(
        """INSERT INTO calls (id, user_id, status, outcome, duration_seconds, created_at, campaign_id, contact_id)
           VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7)""",
        user.id,
        status,
        outcome,
        duration,
        utc(at),
        campaign,
        contact,
    )


async def known_calls(db, owner, stranger):
    """Six calls in Amsterdam's 28-30 March 2026 (29th is 23 hours long), two just outside, one of someone else."""
    await add_call(db, owner, "2026-03-27T23:30:00Z", outcome="appointment_set", duration=120)  # 28th 00:30
    await add_call(db, owner, "2026-03-28T22:59:59Z", outcome="callback", duration=60)  # 28th 23:59:59
    await add_call(db, owner, "2026-03-28T23:00:00Z", outcome="voicemail", duration=30)  # 29th 00:00
    await add_call(db, owner, "2026-03-29T21:59:00Z", status="no-answer", outcome="no_answer")  # 29th 23:59
    await add_call(db, owner, "2026-03-29T22:00:00Z", status="failed")  # 30th 00:00 CEST
    await add_call(db, owner, "2026-03-30T10:00:00Z", status="busy")  # 30th, no answer
    await add_call(db, owner, "2026-03-27T22:59:00Z", duration=999)  # 27th 23:59: before the period
    await add_call(db, owner, "2026-03-30T22:00:00Z", duration=999)  # 31st 00:00: `to` is exclusive
    await add_call(db, stranger, "2026-03-28T12:00:00Z", outcome="appointment_set", duration=999)


PERIOD = f"from=2026-03-28&to=2026-03-31&tz={AMS}"


async def test_overview_counts_each_figure_of_the_callers_period_exactly(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    await known_calls(db, owner, stranger)
    for user, direction, status, at in (
        (owner, "outbound", "delivered", "2026-03-28T10:00:00Z"),
        (owner, "outbound", "sent", "2026-03-30T10:00:00Z"),
        (owner, "inbound", "received", "2026-03-29T10:00:00Z"),
        (owner, "inbound", "received", "2026-03-31T10:00:00Z"),  # after the period
        (stranger, "outbound", "sent", "2026-03-29T10:00:00Z"),
    ):
        await db.execute(
            """INSERT INTO sms_messages (id, user_id, direction, status, body, created_at)
               VALUES (gen_random_uuid(), $1, $2, $3, 'hi', $4)""",
            user.id,
            direction,
            status,
            utc(at),
        )
    for user, at in (
        (owner, "2026-03-28T09:00:00Z"),
        (owner, "2026-03-27T09:00:00Z"),
        (stranger, "2026-03-28T09:00:00Z"),
    ):
        await db.execute(
            "INSERT INTO contacts (id, user_id, first_name, created_at) VALUES (gen_random_uuid(), $1, 'A', $2)",
            user.id,
            utc(at),
        )
    for user, delta, kind, reason in (
        (owner, -5, "debit", "ai.chat"),
        (owner, -3, "debit", "ai.script"),
        (owner, 3, "refund", "ai.script"),  # refunded: not spent
        (owner, -10, "debit", "call"),  # credits, but not AI's
        (stranger, -7, "debit", "ai.chat"),
    ):
        await db.execute(
            """INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, created_at)
               VALUES (gen_random_uuid(), $1, $2, 0, $3, $4, '2026-03-29T10:00:00Z')""",
            user.id,
            delta,
            kind,
            reason,
        )

    response = await client.get(f"/api/analytics/overview?{PERIOD}", headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    # Every live change so far is in the figures: the real-time counters carry on after this event.
    assert body.pop("asOfEventId") == await db.fetchval("SELECT max(id) FROM events")
    assert body == {
        "callsMade": 6,
        "answered": 2,
        "appointmentSet": 1,
        "callback": 1,
        "voicemail": 1,
        "noAnswer": 2,
        "failed": 1,
        "talkTimeSeconds": 210,
        "averageDurationSeconds": 90.0,
        "conversionRate": 16.7,
        "contactsAdded": 1,
        "smsSent": 2,
        "smsReceived": 1,
        "aiCreditsSpent": 5,
        "otherEvents": [],
    }


def counts(bucket):
    return (bucket["start"], bucket["callsMade"], bucket["answered"])


async def test_daily_series_buckets_by_local_midnight_across_spring_forward(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    await known_calls(db, owner, stranger)

    response = await client.get(f"/api/analytics/series?{PERIOD}&interval=day", headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["interval"], body["tz"]) == ("day", AMS)
    assert [counts(b) for b in body["buckets"]] == [
        ("2026-03-28T00:00:00+01:00", 2, 2),
        ("2026-03-29T00:00:00+01:00", 2, 0),
        ("2026-03-30T00:00:00+02:00", 2, 0),
    ]
    first = body["buckets"][0]
    assert (first["appointmentSet"], first["callback"], first["conversionRate"]) == (1, 1, 50.0)
    assert [(b["voicemail"], b["noAnswer"], b["failed"]) for b in body["buckets"]] == [(0, 0, 0), (1, 1, 0), (0, 1, 1)]


async def test_hourly_series_has_23_hours_on_spring_forward_and_25_on_fall_back(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    await known_calls(db, owner, stranger)
    await add_call(db, owner, "2026-10-25T00:30:00Z")  # 02:30 CEST
    await add_call(db, owner, "2026-10-25T01:30:00Z")  # 02:30 CET, the same wall-clock time an hour later

    spring = (
        await client.get(
            f"/api/analytics/series?from=2026-03-29&to=2026-03-30&tz={AMS}&interval=hour", headers=owner.headers
        )
    ).json()
    fall = (
        await client.get(
            f"/api/analytics/series?from=2026-10-25&to=2026-10-26&tz={AMS}&interval=hour", headers=owner.headers
        )
    ).json()

    starts = [b["start"] for b in spring["buckets"]]
    assert len(starts) == 23
    assert starts[:3] == ["2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"]
    assert starts[-1] == "2026-03-29T23:00:00+02:00"
    assert [(b["start"], b["callsMade"]) for b in spring["buckets"] if b["callsMade"]] == [
        ("2026-03-29T00:00:00+01:00", 1),
        ("2026-03-29T23:00:00+02:00", 1),
    ]
    assert len(fall["buckets"]) == 25
    assert [(b["start"], b["callsMade"]) for b in fall["buckets"] if b["callsMade"]] == [
        ("2026-10-25T02:00:00+02:00", 1),
        ("2026-10-25T02:00:00+01:00", 1),
    ]


async def test_half_hour_zone_buckets_at_its_own_midnight_and_hours(client, db, make_user):
    owner = await make_user()
    await add_call(db, owner, "2026-03-28T18:29:59Z")  # 23:59:59 in Kolkata (+05:30)
    await add_call(db, owner, "2026-03-28T18:30:00Z")  # 00:00 the next day

    days = await client.get(
        "/api/analytics/series?from=2026-03-28&to=2026-03-30&tz=Asia/Kolkata", headers=owner.headers
    )
    hours = await client.get(
        "/api/analytics/series?from=2026-03-28T23:00&to=2026-03-29T01:00&tz=Asia/Kolkata&interval=hour",
        headers=owner.headers,
    )

    assert [(b["start"], b["callsMade"]) for b in days.json()["buckets"]] == [
        ("2026-03-28T00:00:00+05:30", 1),
        ("2026-03-29T00:00:00+05:30", 1),
    ]
    assert [(b["start"], b["callsMade"]) for b in hours.json()["buckets"]] == [
        ("2026-03-28T23:00:00+05:30", 1),
        ("2026-03-29T00:00:00+05:30", 1),
    ]


async def test_quarter_hour_zone_buckets_at_its_own_midnight_and_hours(client, db, make_user):
    """Kathmandu is +05:45: its days and hours start at :15 past a UTC hour, the edge of a rollup bucket."""
    owner = await make_user()
    await add_call(db, owner, "2026-03-28T18:14:59Z")  # 23:59:59 on the 28th in Kathmandu
    await add_call(db, owner, "2026-03-28T18:15:00Z")  # 00:00 on the 29th
    await add_call(db, owner, "2026-03-28T19:14:59Z")  # 00:59:59

    days = await client.get(
        "/api/analytics/series?from=2026-03-28&to=2026-03-30&tz=Asia/Kathmandu", headers=owner.headers
    )
    hours = await client.get(
        "/api/analytics/series?from=2026-03-28T23:00&to=2026-03-29T02:00&tz=Asia/Kathmandu&interval=hour",
        headers=owner.headers,
    )
    overview = await client.get(
        "/api/analytics/overview?from=2026-03-29&to=2026-03-30&tz=Asia/Kathmandu", headers=owner.headers
    )

    assert [(b["start"], b["callsMade"]) for b in days.json()["buckets"]] == [
        ("2026-03-28T00:00:00+05:45", 1),
        ("2026-03-29T00:00:00+05:45", 2),
    ]
    assert [(b["start"], b["callsMade"]) for b in hours.json()["buckets"]] == [
        ("2026-03-28T23:00:00+05:45", 1),
        ("2026-03-29T00:00:00+05:45", 2),
        ("2026-03-29T01:00:00+05:45", 0),
    ]
    assert overview.json()["callsMade"] == 2


async def test_weekly_series_starts_on_local_mondays_with_empty_weeks_present(client, db, make_user):
    owner = await make_user()
    await add_call(db, owner, "2026-03-29T22:30:00Z")  # Monday 30 March 00:30 CEST

    response = await client.get(
        f"/api/analytics/series?from=2026-03-16&to=2026-04-06&tz={AMS}&interval=week", headers=owner.headers
    )

    assert [(b["start"], b["callsMade"]) for b in response.json()["buckets"]] == [
        ("2026-03-16T00:00:00+01:00", 0),
        ("2026-03-23T00:00:00+01:00", 0),
        ("2026-03-30T00:00:00+02:00", 1),
    ]


async def campaign_with(client, user, names):
    ids = []
    for name in names:
        contact = await client.post(
            "/api/contacts", json={"firstName": name, "phone": f"+1415555{len(ids):04d}"}, headers=user.headers
        )
        ids.append(contact.json()["id"])
    campaign = await client.post("/api/campaigns", json={"name": "Spring", "contactIds": ids}, headers=user.headers)
    assert campaign.status_code == 201, campaign.text
    return campaign.json()["id"], ids


async def test_campaign_funnel_outcomes_hours_and_best_hours(client, db, make_user):
    owner = await make_user()
    campaign, (ada, bob, cy, _dee) = await campaign_with(client, owner, ["Ada", "Bob", "Cy", "Dee"])
    # Ada twice (no answer at 09:xx, then an appointment at 14:xx), Bob answered at 14:xx, Cy voicemail at 09:xx.
    await add_call(
        db, owner, "2026-03-10T08:10:00Z", status="no-answer", outcome="no_answer", campaign=campaign, contact=ada
    )
    await add_call(db, owner, "2026-03-11T13:10:00Z", outcome="appointment_set", campaign=campaign, contact=ada)
    await add_call(db, owner, "2026-03-11T13:40:00Z", outcome="interested", campaign=campaign, contact=bob)
    await add_call(db, owner, "2026-03-12T08:20:00Z", outcome="voicemail", campaign=campaign, contact=cy)
    await add_call(db, owner, "2026-03-12T10:20:00Z", campaign=None, contact=cy)  # not the campaign's

    response = await client.get(
        f"/api/analytics/campaigns/{campaign}?from=2026-03-01&to=2026-04-01&tz={AMS}", headers=owner.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["funnel"] == {"toCall": 4, "dialed": 3, "answered": 2, "appointmentSet": 1}
    assert body["outcomes"] == {"appointment_set": 1, "interested": 1, "no_answer": 1, "voicemail": 1}
    assert body["byHour"] == [
        {"hour": 9, "callsMade": 2, "answered": 0, "appointmentSet": 0, "answerRate": 0.0},
        {"hour": 14, "callsMade": 2, "answered": 2, "appointmentSet": 1, "answerRate": 100.0},
    ]
    assert body["bestHours"] == [14, 9]
    narrowed = await client.get(
        f"/api/analytics/overview?from=2026-03-01&to=2026-04-01&campaignId={campaign}", headers=owner.headers
    )
    assert (narrowed.json()["callsMade"], narrowed.json()["appointmentSet"]) == (4, 1)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tz=Mars/Olympus", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2026-03-01&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "to"),
        ("from=yesterday", "from"),
        ("from=2026-03-01T10:07&to=2026-03-02", "from"),
        ("from=2026-03-01&to=2026-03-02T00:00:30Z", "to"),
        ("interval=minute", "interval"),
        ("interval=hour&from=2026-01-01&to=2026-03-01", "to"),
    ],
)
async def test_bad_periods_are_a_400_naming_the_field(client, make_user, query, field):
    user = await make_user()

    response = await client.get(f"/api/analytics/series?{query}", headers=user.headers)

    assert response.status_code == 400, response.text
    assert field in response.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tz=Mars/Olympus", "tz"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2026-01-01", "to"),
        ("to=2026-13-01", "to"),
    ],
)
async def test_every_period_route_refuses_a_bad_period_the_same_way(client, make_user, query, field):
    user, admin = await make_user(), await make_user(role="admin")
    campaign, _ = await campaign_with(client, user, ["Ada"])

    for who, path in (
        (user, "/api/analytics/overview"),
        (user, f"/api/analytics/campaigns/{campaign}"),
        (user, "/api/analytics/export"),
        (admin, "/api/admin/analytics/overview"),
        (admin, "/api/admin/analytics/series"),
    ):
        response = await client.get(f"{path}?{query}", headers=who.headers)
        assert response.status_code == 400, path
        body = response.json()
        assert body["code"] == "validation_error" and body["message"], path
        assert [d["field"] for d in body["details"]] == [field], path


async def test_another_users_campaign_is_404(client, make_user):
    owner, intruder = await make_user(), await make_user()
    campaign, _ = await campaign_with(client, owner, ["Ada"])

    for path in (
        f"/api/analytics/campaigns/{campaign}",
        f"/api/analytics/overview?campaignId={campaign}",
        f"/api/analytics/series?campaignId={campaign}",
        "/api/analytics/campaigns/not-an-id",
    ):
        response = await client.get(path, headers=intruder.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


async def test_admins_see_all_accounts_with_active_users_and_credits_others_do_not(client, db, make_user):
    owner, stranger, admin = await make_user(), await make_user(), await make_user(role="admin")
    await known_calls(db, owner, stranger)
    await db.execute(
        """INSERT INTO credit_ledger (id, user_id, delta, balance_after, kind, reason, created_at)
           VALUES (gen_random_uuid(), $1, -10, 0, 'debit', 'call', '2026-03-29T10:00:00Z')""",
        owner.id,
    )

    response = await client.get(f"/api/admin/analytics/overview?{PERIOD}", headers=admin.headers)
    denied = await client.get(f"/api/admin/analytics/overview?{PERIOD}", headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["callsMade"], body["appointmentSet"], body["activeUsers"], body["creditsSpent"]) == (7, 2, 2, 10)
    assert denied.status_code == 403


async def test_imported_events_count_in_their_figure_and_the_others_are_listed(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    await add_call(db, owner, "2026-03-28T10:00:00Z")
    for user, name, properties, at in (
        (owner, "sms_sent", {}, "2026-03-28T10:00:00Z"),
        (owner, "sms_sent", {}, "2026-03-29T10:00:00Z"),
        (owner, "sms_received", {}, "2026-03-29T10:00:00Z"),
        (owner, "ai_credits_spent", {"amount": 4}, "2026-03-29T10:00:00Z"),
        (owner, "ai_credits_spent", {"credits": "2"}, "2026-03-30T10:00:00Z"),
        (owner, "page_view", {"page": "/dashboard"}, "2026-03-28T10:00:00Z"),
        (owner, "page_view", {"page": "/contacts"}, "2026-03-29T10:00:00Z"),
        (owner, "login", {}, "2026-03-29T10:00:00Z"),
        (owner, "page_view", {}, "2026-04-02T10:00:00Z"),  # after the period
        (stranger, "sms_sent", {}, "2026-03-29T10:00:00Z"),
        (stranger, "page_view", {}, "2026-03-29T10:00:00Z"),
    ):
        await db.execute(
            """INSERT INTO analytics_events (id, user_id, firebase_id, name, properties, occurred_at)
               VALUES (gen_random_uuid(), $1, 'analytics/' || gen_random_uuid(), $2, $3, $4)""",
            user.id,
            name,
            properties,
            utc(at),
        )

    body = (await client.get(f"/api/analytics/overview?{PERIOD}", headers=owner.headers)).json()
    admin = await make_user(role="admin")
    everyone = (await client.get(f"/api/admin/analytics/overview?{PERIOD}", headers=admin.headers)).json()

    assert (body["callsMade"], body["smsSent"], body["smsReceived"], body["aiCreditsSpent"]) == (1, 2, 1, 6)
    assert body["otherEvents"] == [{"name": "page_view", "count": 2}, {"name": "login", "count": 1}]
    assert (everyone["smsSent"], everyone["creditsSpent"]) == (3, 6)
    assert everyone["otherEvents"] == [{"name": "page_view", "count": 3}, {"name": "login", "count": 1}]

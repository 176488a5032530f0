"""The activity feed and the live events: written in the writer's transaction, announced at its commit only."""

from __future__ import annotations

import uuid

import pytest

ACTIVITY_KEYS = {"id", "kind", "occurredAt"}


async def new_call(db, user, campaign=None, status="ringing"):
    return await db.fetchval(
        """INSERT INTO calls (id, user_id, campaign_id, status) VALUES (gen_random_uuid(), $1, $2, $3)
           RETURNING id""",
        user.id,
        campaign,
        status,
    )


async def events_of(db, user, kind, after=0):
    rows = await db.fetch(
        "SELECT id, data FROM events WHERE $1 = ANY(audience) AND type = $2 AND id > $3 ORDER BY id",
        user.id,
        kind,
        after,
    )
    return [(row["id"], row["data"]) for row in rows]


async def test_the_feed_lists_each_kind_newest_first_in_pages_and_only_the_callers(client, db, make_user):
    owner, stranger = await make_user(), await make_user()
    bulk = await client.post(
        "/api/contacts/bulk",
        json={"contacts": [{"firstName": "Ada", "phone": "+14155550100"}, {"firstName": "Bob"}]},
        headers=owner.headers,
    )
    assert bulk.status_code == 201, bulk.text
    contact = bulk.json() and (await client.get("/api/contacts", headers=owner.headers)).json()[0]["id"]
    campaign = (
        await client.post(
            "/api/campaigns", json={"name": "Spring", "script": "Hi", "contactIds": [contact]}, headers=owner.headers
        )
    ).json()["id"]
    assert (await client.post(f"/api/campaigns/{campaign}/start", headers=owner.headers)).status_code == 200
    call = await new_call(db, owner, uuid.UUID(campaign))
    await db.execute("UPDATE calls SET status = 'in-progress' WHERE id = $1", call)  # not finished yet
    await db.execute("UPDATE calls SET status = 'completed', duration_seconds = 42 WHERE id = $1", call)
    await db.execute("UPDATE calls SET outcome = 'appointment_set' WHERE id = $1", call)
    await db.execute("UPDATE calls SET status = 'completed' WHERE id = $1", call)  # finished once only
    assert (await client.post(f"/api/campaigns/{campaign}/complete", headers=owner.headers)).status_code == 200
    await new_call(db, stranger, status="completed")

    first = await client.get("/api/analytics/activity?limit=3", headers=owner.headers)
    second = await client.get(
        f"/api/analytics/activity?limit=3&cursor={first.headers['x-next-cursor']}", headers=owner.headers
    )
    narrowed = await client.get("/api/analytics/activity?kind=call.finished", headers=owner.headers)

    assert first.status_code == 200, first.text
    assert "x-next-cursor" not in second.headers
    feed = first.json() + second.json()
    assert [item["kind"] for item in feed] == [
        "campaign.completed",
        "appointment.set",
        "call.finished",
        "campaign.started",
        "contacts.added",
    ]
    completed, appointment, finished, started, added = feed
    assert {k: completed[k] for k in ("campaignId", "name", "status")} == {
        "campaignId": campaign,
        "name": "Spring",
        "status": "completed",
    }
    assert finished["callId"] == str(call) and finished["campaignId"] == campaign
    assert (finished["status"], finished["durationSeconds"], finished["outcome"]) == ("completed", 42, None)
    assert appointment["outcome"] == "appointment_set"
    assert added["count"] == 2
    assert started["status"] == "active"
    assert [item["occurredAt"] for item in feed] == sorted((item["occurredAt"] for item in feed), reverse=True)
    assert [item["kind"] for item in narrowed.json()] == ["call.finished"]
    stranger_feed = (await client.get("/api/analytics/activity", headers=stranger.headers)).json()
    assert [item["kind"] for item in stranger_feed] == ["call.finished"]
    assert stranger_feed[0]["callId"] != str(call)

    # Each entry was announced live to its owner alone, with the same fields as the feed.
    announced = [data for _, data in await events_of(db, owner, "analytics.activity")]
    assert sorted(announced, key=lambda d: d["kind"]) == sorted(
        [{**item, "occurredAt": announced_time(announced, item["id"])} for item in feed], key=lambda d: d["kind"]
    )


def announced_time(announced, item_id):
    """Event data is JSON written by PostgreSQL (its own timestamp format); the feed's is the API's."""
    return next(d["occurredAt"] for d in announced if d["id"] == item_id)


@pytest.mark.parametrize(
    ("query", "field"),
    [("kind=call.started", "kind"), ("limit=0", "limit"), ("cursor=%%%", "cursor")],
)
async def test_bad_feed_parameters_are_a_400_naming_them(client, make_user, query, field):
    user = await make_user()
    response = await client.get(f"/api/analytics/activity?{query}", headers=user.headers)
    assert response.status_code == 400, response.text
    assert field in response.text


async def test_counters_are_announced_at_commit_with_what_the_transaction_moved(client, db, make_user):
    owner = await make_user()
    overview = (await client.get("/api/analytics/overview", headers=owner.headers)).json()
    call = await new_call(db, owner)
    await db.execute("UPDATE calls SET status = 'completed', duration_seconds = 30 WHERE id = $1", call)

    counters = await events_of(db, owner, "analytics.counters", after=overview["asOfEventId"])

    assert [data["changes"] for _, data in counters] == [
        {"calls_made": 1},
        {"answered": 1, "talk_seconds": 30, "answered_seconds": 30},
    ]
    bucket = counters[0][1]["bucket"]
    assert counters[1][1]["bucket"] == bucket and counters[0][1]["campaignId"] is None
    # Folding the figures the events announced into the overview read before gives the overview now.
    now = (await client.get("/api/analytics/overview", headers=owner.headers)).json()
    assert now["callsMade"] == overview["callsMade"] + 1
    assert (now["answered"], now["talkTimeSeconds"]) == (overview["answered"] + 1, overview["talkTimeSeconds"] + 30)
    assert now["asOfEventId"] == await db.fetchval("SELECT max(id) FROM events") > counters[-1][0]


async def test_a_rolled_back_change_leaves_no_rollup_activity_or_event(db, make_user):
    owner = await make_user()
    events = await db.fetchval("SELECT count(*) FROM events")
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await new_call(db, owner, status="completed")
            raise RuntimeError("the request failed")

    assert await db.fetchval("SELECT count(*) FROM events") == events
    assert await db.fetchval("SELECT count(*) FROM analytics_rollup_deltas WHERE user_id = $1", owner.id) == 0
    assert await db.fetchval("SELECT count(*) FROM analytics_activity WHERE user_id = $1", owner.id) == 0


async def test_imported_rows_are_history_without_live_events(db, make_user):
    owner = await make_user()
    events = await db.fetchval("SELECT count(*) FROM events")
    await db.execute(
        """INSERT INTO calls (id, user_id, firebase_id, status, outcome, ended_at)
           VALUES (gen_random_uuid(), $1, 'calls/x', 'completed', 'appointment_set', '2025-01-01T10:00:00Z')""",
        owner.id,
    )
    assert await db.fetchval("SELECT count(*) FROM events") == events
    kinds = await db.fetch(
        "SELECT kind, occurred_at FROM analytics_activity WHERE user_id = $1 ORDER BY kind", owner.id
    )
    assert [(r["kind"], r["occurred_at"].isoformat()) for r in kinds] == [
        ("appointment.set", "2025-01-01T10:00:00+00:00"),
        ("call.finished", "2025-01-01T10:00:00+00:00"),
    ]

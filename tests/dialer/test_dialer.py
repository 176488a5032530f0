"""The dialer in one process: claims, dials through the loopback Twilio, settles attempts, with a moved clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from tests.dialer.conftest import dial_due, end_calls, run_queued, set_rules, start, targets
from tests.fakes.twilio import deliver

BASE = "http://testserver.local"
NUMBERS = ("+14155550101", "+14155550102", "+14155550103")


async def test_starting_schedules_every_member_and_a_pump_in_the_same_transaction(client, db, owner, campaign):
    created = await campaign(*NUMBERS)
    assert await db.fetchval("SELECT count(*) FROM dialer_targets") == 0

    started = await start(client, owner, created["id"])

    assert started["status"] == "active"
    assert await targets(db, created["id"]) == {n: ("pending", 0, None) for n in NUMBERS}
    jobs = await db.fetch("SELECT entrypoint, payload FROM pgqueuer WHERE entrypoint = 'dialer.run'")
    assert [j["payload"] for j in jobs] == [f'{{"campaignId":"{created["id"]}"}}'.encode()]
    event = await db.fetchrow("SELECT audience, data FROM events WHERE type = 'campaign.progress'")
    assert list(event["audience"]) == [owner.id]
    assert event["data"]["status"] == "active" and event["data"]["progress"]["toCall"] == 3


async def test_each_contact_is_dialed_once_with_its_sid_recorded_then_the_campaign_completes(
    client, db, owner, campaign, dialer, twilio
):
    created = await campaign(*NUMBERS)
    await start(client, owner, created["id"])

    assert await dial_due(dialer, created["id"]) == 3
    assert await dial_due(dialer, created["id"]) == 0  # nothing twice
    # While it runs, a progress event is on its way (one per campaign and second, however many dials).
    queued = "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'dialer.publish_progress'"
    assert await db.fetchval(queued) == 1
    running = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (running["dialed"], running["inProgress"], running["toCall"]) == (3, 3, 0)
    assert running["callsPerSecond"] > 0 and running["estimatedFinishAt"] is not None

    assert dict(twilio.dials) == {n: 1 for n in NUMBERS}
    calls = await db.fetch("SELECT twilio_sid, dial_attempt, script, status, phone_number FROM calls ORDER BY 5")
    assert [c["twilio_sid"] in twilio.calls for c in calls] == [True] * 3
    assert [c["dial_attempt"] for c in calls] == [1, 1, 1]
    assert calls[0]["script"] == "Hello C0, this is Engines."
    assert await targets(db, created["id"]) == {n: ("dialing", 1, None) for n in NUMBERS}
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 1000 - 3 * 10

    assert await end_calls(client, db, dialer, twilio, "completed") == 3

    assert await targets(db, created["id"]) == {n: ("done", 1, None) for n in NUMBERS}
    got = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()
    assert got["status"] == "completed"  # nobody left to call
    assert got["callsMade"] == 3
    progress = got["progress"]
    assert (progress["toCall"], progress["dialed"], progress["answered"], progress["inProgress"]) == (0, 3, 3, 0)
    assert progress["estimatedFinishAt"] is None
    final = await db.fetchval("SELECT data FROM events WHERE type = 'campaign.progress' ORDER BY id DESC LIMIT 1")
    assert final["status"] == "completed" and final["progress"]["answered"] == 3


async def test_busy_and_no_answer_are_retried_after_the_delay_and_stop_at_the_maximum(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(NUMBERS[0])
    await set_rules(client, owner, created["id"], maxAttempts=3, retryDelayMinutes=30)
    await start(client, owner, created["id"])

    for attempt, final in enumerate(("busy", "no-answer", "failed"), start=1):
        assert await dial_due(dialer, created["id"]) == 1
        await end_calls(client, db, dialer, twilio, final)
        clock.advance(minutes=29)
        assert await dial_due(dialer, created["id"]) == 0  # not before the retry delay
        clock.advance(minutes=1)

    assert await dial_due(dialer, created["id"]) == 0
    assert twilio.dials[NUMBERS[0]] == 3
    rows = await db.fetch("SELECT dial_attempt, status FROM calls ORDER BY dial_attempt")
    assert [(r["dial_attempt"], r["status"]) for r in rows] == [(1, "busy"), (2, "no-answer"), (3, "failed")]
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("done", 3, None)}
    progress = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (progress["noAnswer"], progress["failed"], progress["dialed"]) == (2, 1, 3)
    # Unanswered calls cost nothing.
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 1000


async def test_an_answered_call_is_never_retried_and_an_opt_out_stops_the_retries(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(*NUMBERS[:2])
    await set_rules(client, owner, created["id"], maxAttempts=5, retryDelayMinutes=0)
    await start(client, owner, created["id"])
    assert await dial_due(dialer, created["id"]) == 2
    first, second = await db.fetch("SELECT twilio_sid FROM calls ORDER BY phone_number")
    await deliver(client, twilio.progress(first["twilio_sid"], "completed"))
    await deliver(client, twilio.progress(second["twilio_sid"], "busy"))
    await run_queued(db, "dialer.call_ended", lambda p: dialer.call_ended(uuid.UUID(p["callId"])))
    # The busy contact replies STOP before its retry.
    await twilio.inbound_sms(f"{BASE}/api/twilio/sms", NUMBERS[1], "STOP").send(client)

    clock.advance(minutes=5)
    assert await dial_due(dialer, created["id"]) == 0

    assert dict(twilio.dials) == {NUMBERS[0]: 1, NUMBERS[1]: 1}
    assert await targets(db, created["id"]) == {
        NUMBERS[0]: ("done", 1, None),
        NUMBERS[1]: ("skipped", 1, "opted_out"),
    }


async def test_do_not_call_numbers_and_opted_out_contacts_are_skipped_and_counted(
    client, db, owner, campaign, dialer, twilio
):
    created = await campaign(*NUMBERS)
    listed = await client.post(
        "/api/do-not-call", json={"phoneNumber": "(415) 555-0102", "reason": "asked"}, headers=owner.headers
    )
    assert listed.status_code == 201, listed.text
    assert listed.json()["phoneNumber"] == NUMBERS[1]
    await db.execute("UPDATE contacts SET opted_out_at = now() WHERE phone = $1", NUMBERS[2])
    await start(client, owner, created["id"])

    assert await dial_due(dialer, created["id"]) == 1

    assert dict(twilio.dials) == {NUMBERS[0]: 1}
    assert await targets(db, created["id"]) == {
        NUMBERS[0]: ("dialing", 1, None),
        NUMBERS[1]: ("skipped", 0, "do_not_call"),
        NUMBERS[2]: ("skipped", 0, "opted_out"),
    }
    progress = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (progress["doNotCall"], progress["optedOut"], progress["toCall"], progress["inProgress"]) == (1, 1, 0, 1)


async def test_pause_stops_the_next_claim_resume_continues_and_complete_cancels_the_rest(
    client, db, owner, campaign, dialer, twilio, settings
):
    created = await campaign(*NUMBERS)
    await start(client, owner, created["id"])
    # One dial slot at a time, so the campaign is half-way when it is paused.
    await db.execute("UPDATE dialer_pacing SET max_concurrent = 1")
    assert await dial_due(dialer, created["id"]) == 1
    await end_calls(client, db, dialer, twilio)

    await start(client, owner, created["id"], "pause")
    assert await dial_due(dialer, created["id"]) == 0
    assert (await dialer.claim(uuid.UUID(created["id"]))).wait is None  # the pump stops

    await start(client, owner, created["id"], "start")  # resume
    assert await dial_due(dialer, created["id"]) == 1
    await start(client, owner, created["id"], "complete")
    await end_calls(client, db, dialer, twilio)
    assert await dial_due(dialer, created["id"]) == 0

    assert sum(twilio.dials.values()) == 2
    states = sorted(state for state, _, _ in (await targets(db, created["id"])).values())
    assert states == ["canceled", "done", "done"]


async def test_calling_hours_in_each_contacts_zone_across_the_dst_change(client, db, owner, campaign, dialer, clock):
    from datetime import UTC, datetime

    new_york, los_angeles = "+12125550100", "+14155550100"  # zones derived from the numbers
    created = await campaign(new_york, los_angeles)
    await set_rules(client, owner, created["id"], callingStart="08:00", callingEnd="21:00")
    # Saturday 13 March 2027, 20:30 in New York (EST, UTC-5) and 17:30 in Los Angeles.
    clock.current = datetime(2027, 3, 14, 1, 30, tzinfo=UTC)
    await start(client, owner, created["id"])

    assert await dial_due(dialer, created["id"]) == 2
    await db.execute("UPDATE dialer_targets SET state = 'pending', next_at = NULL")  # both again, later
    await db.execute("UPDATE calls SET status = 'completed'")
    clock.current = datetime(2027, 3, 14, 2, 1, tzinfo=UTC)  # 21:01 in New York: closed; 18:01 in LA: open
    assert await dial_due(dialer, created["id"]) == 1
    ny_next = await db.fetchval(
        "SELECT t.next_at FROM dialer_targets t JOIN contacts c ON c.id = t.contact_id WHERE c.phone = $1", new_york
    )
    # Clocks go forward at 02:00 on Sunday: 08:00 is EDT (UTC-4), so 12:00 UTC, not 13:00.
    assert ny_next == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)

    clock.current = datetime(2027, 3, 14, 11, 59, 59, tzinfo=UTC)
    assert await dial_due(dialer, created["id"]) == 0  # never early
    clock.current = datetime(2027, 3, 14, 12, 0, tzinfo=UTC)
    assert await dial_due(dialer, created["id"]) == 1


async def test_a_twilio_429_backs_off_every_dial_and_is_not_an_attempt(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(NUMBERS[0])
    await start(client, owner, created["id"])
    twilio.fail_next(429, 20429, "Too Many Requests")

    (refused,) = (await dialer.claim(uuid.UUID(created["id"]))).attempts
    await dialer.dial(refused)  # sent, and refused
    assert twilio.dials[NUMBERS[0]] == 0
    assert await db.fetchval("SELECT count(*) FROM calls") == 0
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("pending", 0, None)}
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 1000  # refunded
    backoff = await db.fetchval("SELECT backoff_until FROM dialer_pacing")
    assert backoff > clock.now()

    claim = await dialer.claim(uuid.UUID(created["id"]))
    assert claim.attempts[0].slot >= backoff  # nobody dials while it lasts: the next slot is after it
    await dialer.dial(claim.attempts[0])
    assert clock.now() >= backoff
    assert twilio.dials[NUMBERS[0]] == 1
    assert await db.fetchval("SELECT dial_attempt FROM calls") == 1


async def test_a_dial_whose_answer_was_lost_is_reconciled_by_number_and_time_not_redialed(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(NUMBERS[0])
    await start(client, owner, created["id"])
    twilio.lose_answers = 1

    assert await dial_due(dialer, created["id"]) == 1
    assert twilio.dials[NUMBERS[0]] == 1
    assert await db.fetchval("SELECT twilio_sid FROM calls") is None  # we do not know whether it left
    clock.advance(seconds=10)
    assert await dialer.reconcile() == 0  # within the lease: nobody touches it
    assert await dial_due(dialer, created["id"]) == 0  # and nobody redials it

    clock.advance(seconds=15)
    assert await dialer.reconcile() == 1

    (placed,) = twilio.calls
    assert await db.fetchval("SELECT twilio_sid FROM calls") == placed
    await end_calls(client, db, dialer, twilio)
    assert twilio.dials[NUMBERS[0]] == 1
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("done", 1, None)}


async def test_a_claim_that_never_dialed_is_given_back_after_the_lease_and_dialed_once(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(NUMBERS[0])
    await start(client, owner, created["id"])
    claim = await dialer.claim(uuid.UUID(created["id"]))
    assert len(claim.attempts) == 1  # ...and the worker dies before dialing

    clock.advance(seconds=25)
    assert await dialer.reconcile() == 1
    assert await db.fetchval("SELECT count(*) FROM calls") == 0
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("pending", 0, None)}
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 1000

    assert await dial_due(dialer, created["id"]) == 1
    assert twilio.dials[NUMBERS[0]] == 1
    assert await db.fetchval("SELECT dial_attempt FROM calls") == 1


async def test_a_late_dial_is_given_back_not_sent(client, db, owner, campaign, dialer, twilio, clock):
    created = await campaign(NUMBERS[0])
    await start(client, owner, created["id"])
    claim = await dialer.claim(uuid.UUID(created["id"]))
    clock.advance(seconds=6)  # past the send deadline (a stalled worker)

    await dialer.dial(claim.attempts[0])

    assert twilio.dials[NUMBERS[0]] == 0
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("pending", 0, None)}


async def test_a_dial_that_wakes_after_its_slot_interval_is_given_back_and_the_next_slots_go_out(
    client, db, owner, campaign, dialer, twilio, clock
):
    """Sent late, a dial would land beside the next slot's: two at once, above the account's rate."""
    await db.execute("UPDATE dialer_pacing SET calls_per_second = 10, next_slot_at = $1", clock.now())
    created = await campaign(*NUMBERS)
    await start(client, owner, created["id"])
    first, second, third = (await dialer.claim(uuid.UUID(created["id"]))).attempts
    assert [a.slot - first.slot for a in (second, third)] == [timedelta(seconds=0.1), timedelta(seconds=0.2)]
    assert first.send_by == first.slot + timedelta(seconds=0.1)

    clock.advance(seconds=0.15)  # the worker stalled: the first slot has passed by more than its interval
    await dialer.dial(first)
    await dialer.dial(second)
    await dialer.dial(third)

    assert dict(twilio.dials) == {NUMBERS[1]: 1, NUMBERS[2]: 1}
    assert (await targets(db, created["id"]))[NUMBERS[0]] == ("pending", 0, None)  # due again, no attempt used
    assert await db.fetchval("SELECT count(*) FROM calls") == 2
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 1000 - 2 * 10  # reserved for two


async def test_dials_waiting_for_their_slot_are_given_back_when_the_campaign_stops(
    client, db, owner, campaign, dialer, twilio, clock
):
    await db.execute("UPDATE dialer_pacing SET calls_per_second = 10, next_slot_at = $1", clock.now())
    created = await campaign(*NUMBERS[:2])
    await start(client, owner, created["id"])
    claim = await dialer.claim(uuid.UUID(created["id"]))
    stopped = asyncio.Event()
    stopped.set()  # the pump saw the pause before these slots came

    await asyncio.gather(*(dialer.dial(attempt, stopped) for attempt in claim.attempts))

    assert sum(twilio.dials.values()) == 0
    assert await targets(db, created["id"]) == {n: ("pending", 0, None) for n in NUMBERS[:2]}
    assert await db.fetchval("SELECT count(*) FROM calls") == 0


async def test_the_database_refuses_two_live_calls_of_one_campaign_to_one_contact(client, db, owner, campaign):
    import asyncpg
    import pytest

    created = await campaign(NUMBERS[0])
    contact_id = created["contactIds"][0]
    insert = (
        "INSERT INTO calls (id, user_id, contact_id, campaign_id, phone_number, dial_attempt) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)"
    )
    args = (owner.id, uuid.UUID(contact_id), uuid.UUID(created["id"]), NUMBERS[0])
    await db.execute(insert, *args, 1)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, *args, 2)  # attempt 1 is still live
    await db.execute("UPDATE calls SET status = 'busy'")
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, *args, 1)  # the same attempt twice
    await db.execute(insert, *args, 2)


async def test_answering_machines_get_the_campaigns_voicemail_and_count_as_voicemail(
    client, db, owner, campaign, dialer, twilio
):
    created = await campaign(NUMBERS[0])
    rules = await set_rules(
        client, owner, created["id"], machineDetection=True, voicemailAction="message",
        voicemailMessage="Sorry we missed you. Call us back.",
    )  # fmt: skip
    assert rules["voicemailAction"] == "message"
    await start(client, owner, created["id"])
    assert await dial_due(dialer, created["id"]) == 1
    (sid,) = twilio.calls
    assert twilio.calls[sid].machine_detection == "DetectMessageEnd"  # waits for the beep

    # Twilio fetches the TwiML once it knows who answered.
    url = f"{twilio.calls[sid].url}&AnsweredBy=machine_end_beep"
    from tests.calls.test_calls import twilio_get

    twiml = await twilio_get(client, url)
    assert "Sorry we missed you. Call us back." in twiml.text and "Hello" not in twiml.text
    await end_calls(client, db, dialer, twilio, "completed", answered_by="machine_end_beep")

    progress = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (progress["voicemail"], progress["answered"], progress["toCall"]) == (1, 0, 0)
    assert await targets(db, created["id"]) == {NUMBERS[0]: ("done", 1, None)}


async def test_members_added_to_a_running_campaign_are_called_too(client, db, owner, campaign, dialer, twilio):
    created = await campaign(NUMBERS[0])
    await start(client, owner, created["id"])
    response = await client.post("/api/contacts", json={"firstName": "New", "phone": NUMBERS[1]}, headers=owner.headers)
    added = await client.post(
        f"/api/campaigns/{created['id']}/contacts", json={"contactIds": [response.json()["id"]]}, headers=owner.headers
    )
    assert added.status_code == 200, added.text

    assert await dial_due(dialer, created["id"]) == 2
    assert dict(twilio.dials) == {NUMBERS[0]: 1, NUMBERS[1]: 1}


async def test_out_of_credits_pauses_the_campaign(client, db, owner, campaign, dialer, twilio):
    created = await campaign(*NUMBERS)
    await start(client, owner, created["id"])
    await db.execute("UPDATE users SET credits = 25 WHERE id = $1", owner.id)  # two calls' worth of three

    assert len((await dialer.claim(uuid.UUID(created["id"]))).attempts) == 2  # what the balance covers, then...
    assert (await dialer.claim(uuid.UUID(created["id"]))).wait is None  # ...paused, not a call short

    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", owner.id) == 5
    assert sorted(state for state, _, _ in (await targets(db, created["id"])).values()) == [
        "dialing",
        "dialing",
        "pending",
    ]
    assert await db.fetchval("SELECT status FROM campaigns") == "paused"
    event = await db.fetchval("SELECT data FROM events WHERE type = 'campaign.progress' ORDER BY id DESC LIMIT 1")
    assert (event["status"], event["reason"]) == ("paused", "insufficient_credits")


def test_clock_window_helpers_are_exact_at_the_edges():
    """Unit: the window's end is exclusive; a start inside a DST gap opens when the clocks resume."""
    from datetime import UTC, datetime, time

    from service.dialer import hours

    ny = hours.zone("America/New_York")
    window = hours.Window(time(8), time(21), frozenset(range(1, 8)))
    closing = datetime(2027, 7, 1, 0, 59, 59, tzinfo=UTC)  # 20:59:59 EDT
    assert hours.next_opening(closing, [ny], window) == closing
    assert hours.next_opening(closing + timedelta(seconds=1), [ny], window) == datetime(2027, 7, 1, 12, tzinfo=UTC)
    gap = hours.Window(time(2, 30), time(21), frozenset(range(1, 8)))
    # 14 March 2027: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist, the window opens at 03:00 EDT.
    assert hours.next_opening(datetime(2027, 3, 14, 5, tzinfo=UTC), [ny], gap) == datetime(2027, 3, 14, 7, tzinfo=UTC)
    # Fall back, 7 November 2027: 08:00 EST is 13:00 UTC.
    assert hours.next_opening(datetime(2027, 11, 7, 6, tzinfo=UTC), [ny], window) == datetime(
        2027, 11, 7, 13, tzinfo=UTC
    )


def test_weekdays_and_numbers_that_span_zones():
    from datetime import UTC, datetime, time

    from service.dialer import hours

    weekdays = hours.Window(time(9), time(17), frozenset(range(1, 6)))
    saturday = datetime(2027, 7, 3, 15, tzinfo=UTC)  # 11:00 EDT on a Saturday
    ny = hours.zone("America/New_York")
    assert hours.next_opening(saturday, [ny], weekdays) == datetime(2027, 7, 5, 13, tzinfo=UTC)  # Monday 09:00
    # A toll-free +1 number may ring anywhere from Guam to Hawaii: only the hours open in every zone count.
    zones = hours.contact_zones(None, "+18005550100")
    assert len(zones) > 10
    opening = hours.next_opening(
        datetime(2027, 7, 5, 12, tzinfo=UTC), zones, hours.Window(time(8), time(21), frozenset(range(1, 8)))
    )
    assert opening is not None
    for tz in zones:
        local = opening.astimezone(tz).time()
        assert time(8) <= local < time(21), tz
    assert hours.contact_zones(None, "+447700900123") == []  # UK mobiles: no zone known


async def test_a_lost_end_of_call_webhook_is_fetched_from_twilio_after_the_timeout(
    client, db, owner, campaign, dialer, twilio, clock
):
    created = await campaign(*NUMBERS[:2])
    await set_rules(client, owner, created["id"], maxAttempts=1)
    await start(client, owner, created["id"])
    assert await dial_due(dialer, created["id"]) == 2
    ended, talking = await db.fetch("SELECT twilio_sid FROM calls ORDER BY phone_number")
    # The first call ends at Twilio, but its last webhook (completed) never reaches us.
    *delivered, lost = twilio.progress(ended["twilio_sid"], "completed", answered_by="machine_end_beep")
    await deliver(client, delivered)
    # The second is still in progress at Twilio.
    await deliver(client, twilio.progress(talking["twilio_sid"], "completed")[:3])
    twilio.calls[talking["twilio_sid"]].status = "in-progress"

    clock.advance(minutes=9)
    assert await dialer.check_silent_calls() == 0  # too soon to suspect anything
    clock.advance(minutes=2)
    assert await dialer.check_silent_calls() == 1
    await run_queued(db, "dialer.call_ended", lambda p: dialer.call_ended(uuid.UUID(p["callId"])))

    assert await targets(db, created["id"]) == {NUMBERS[0]: ("done", 1, None), NUMBERS[1]: ("dialing", 1, None)}
    call = await db.fetchrow("SELECT status, outcome, duration_seconds FROM calls WHERE twilio_sid = $1", ended[0])
    assert tuple(call) == ("completed", "voicemail", 42)
    progress = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (progress["voicemail"], progress["inProgress"]) == (1, 1)
    # The webhook arriving after all changes nothing; the call in progress is asked about again later.
    await deliver(client, [lost])
    assert await dialer.check_silent_calls() == 0
    assert dict(twilio.dials) == {NUMBERS[0]: 1, NUMBERS[1]: 1}


async def test_numbers_without_a_time_zone_or_common_hours_are_skipped_and_counted(
    client, db, owner, campaign, dialer, twilio, clock
):
    # An international freephone number (+800) belongs to no zone, so its calling hours cannot be judged; a US
    # toll-free number may be anywhere from Guam to Newfoundland, where 11:00-12:00 never overlaps.
    freephone, toll_free = "+80012345678", "+18005550100"
    created = await campaign(NUMBERS[0], freephone, toll_free)
    await set_rules(client, owner, created["id"], callingStart="11:00", callingEnd="12:00")
    clock.advance(minutes=30)  # 11:30 in San Francisco
    await start(client, owner, created["id"])

    assert await dial_due(dialer, created["id"]) == 1

    assert dict(twilio.dials) == {NUMBERS[0]: 1}
    assert await targets(db, created["id"]) == {
        toll_free: ("skipped", 0, "no_calling_hours"),
        freephone: ("skipped", 0, "no_timezone"),
        NUMBERS[0]: ("dialing", 1, None),
    }
    progress = (await client.get(f"/api/campaigns/{created['id']}", headers=owner.headers)).json()["progress"]
    assert (progress["noTimeZone"], progress["unreachable"], progress["toCall"]) == (1, 1, 0)

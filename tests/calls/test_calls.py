"""Placing and following calls against the loopback Twilio, with its webhooks signed for real."""

from __future__ import annotations

import json

from tests.fakes.twilio import deliver

SCRIPT = "Hello {{firstName}} from {{company}}, {{unknown}}bye"


async def place(client, caller, contact_id, **body):
    return await client.post("/api/calls", json={"contactId": contact_id, **body}, headers=caller.headers)


async def balance(db, user):
    return await db.fetchval("SELECT credits FROM users WHERE id = $1", user.id)


async def run_analysis(settings, payload):
    """The job's handler, as the worker runs it (its own pool: the app's lives on the test client's loop)."""
    from service.calls.jobs import analyse_recording
    from service.db.pool import create_pool
    from service.jobs import JobContext
    from service.jobs.clients import build_clients

    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        context = JobContext(pool=pool, settings=settings, attempt=1, job_id=1, clients=build_clients(settings))
        await analyse_recording(context, payload)
    finally:
        await pool.close()


async def test_a_call_reserves_credits_dials_and_follows_the_webhooks_to_completed(
    client, db, caller, contact, twilio, settings
):
    ada = await contact()
    response = await place(client, caller, ada["id"], script=SCRIPT, recordingEnabled=True, language="nl")

    assert response.status_code == 201, response.text
    call = response.json()
    assert (call["twilioStatus"], call["status"], call["contactName"], call["phoneNumber"]) == (
        "queued",
        "Queued",
        "Ada Lovelace",
        "+14155550100",
    )
    assert twilio.dials["+14155550100"] == 1
    assert await balance(db, caller) == 90
    ledger = await db.fetch("SELECT delta, kind FROM credit_ledger WHERE user_id = $1", caller.id)
    assert [(r["delta"], r["kind"]) for r in ledger] == [(-10, "debit")]

    fake_call = twilio.calls[call["sid"]]
    assert fake_call.events == ["initiated", "ringing", "answered", "completed"]
    assert fake_call.status_callback == "http://testserver.local/api/calls/status"
    twiml = await twilio_get(client, fake_call.url)
    assert twiml.headers["content-type"].startswith("text/xml")
    assert "Hello Ada from Engines, bye" in twiml.text and 'language="nl-NL"' in twiml.text
    assert 'maxLength="120"' in twiml.text and 'transcribe="true"' in twiml.text

    answers = await deliver(client, twilio.progress(call["sid"], duration=42))
    assert [a.status_code for a in answers] == [200] * 4
    recording = twilio.recording(call["sid"], url="http://testserver.local/api/twilio/recording-status")
    assert "<Hangup" in (await recording.send(client)).text
    await twilio.transcription("http://testserver.local/api/twilio/transcription", call["sid"], "Yes, call me").send(
        client
    )

    got = (await client.get(f"/api/calls/{call['sid']}", headers=caller.headers)).json()
    assert (got["status"], got["twilioStatus"], got["duration"]) == ("Completed", "completed", 42)
    assert got["recordingUrl"] == recording.params["RecordingUrl"] and got["transcript"] == "Yes, call me"
    assert await balance(db, caller) == 90  # charged: the reservation became the price
    assert await db.fetchval("SELECT status FROM credit_reservations") == "charged"
    assert await db.fetchval("SELECT count(*) FROM call_events WHERE event_type = 'status'") == 4

    events = await db.fetch("SELECT audience, data FROM events WHERE type = 'call.status' ORDER BY id")
    assert all(list(e["audience"]) == [caller.id] for e in events)
    assert [e["data"]["twilioStatus"] for e in events[1:]] == ["initiated", "ringing", "in-progress", "completed"]
    assert events[-1]["data"]["status"] == "Completed" and events[-1]["data"]["duration"] == 42
    jobs = await db.fetch("SELECT entrypoint, payload FROM pgqueuer")
    assert [j["entrypoint"] for j in jobs] == ["calls.analyse_recording"]
    await run_analysis(settings, json.loads(bytes(jobs[0]["payload"])))
    await run_analysis(settings, json.loads(bytes(jobs[0]["payload"])))  # a rerun decides nothing twice
    # No OpenAI key in these tests: the analysis (tests/ai) is skipped once, with its reason.
    analysis = await db.fetch("SELECT status, reason FROM call_analyses")
    assert [tuple(a) for a in analysis] == [("skipped", "AI features are not configured on this server")]
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'call.analysis'") == 1

    legacy = (await client.get(f"/api/call/{call['sid']}", headers=caller.headers)).json()
    assert (legacy["status"], legacy["duration"], legacy["to"], legacy["from"]) == (
        "completed",
        42,
        "+14155550100",
        "+15005550006",
    )


async def twilio_get(client, url):
    """Twilio fetching a GET webhook: signed over the full URL, query string included."""
    from tests.fakes.twilio import Callback

    signature = Callback(url, {}).signature
    return await client.get(url, headers={"X-Twilio-Signature": signature})


async def test_duplicated_and_shuffled_callbacks_end_in_the_same_final_state_each_stored_once(
    client, db, caller, contact, twilio
):
    ada = await contact()
    for seed in range(5):
        sid = (await place(client, caller, ada["id"])).json()["sid"]
        await deliver(client, twilio.progress(sid, duration=7), duplicate=True, shuffle=True, seed=seed)
        row = await db.fetchrow(
            "SELECT status, duration_seconds, last_sequence_number FROM calls WHERE twilio_sid = $1", sid
        )
        assert tuple(row) == ("completed", 7, 3), seed
        assert await db.fetchval("SELECT count(*) FROM call_events WHERE call_sid = $1", sid) == 4


async def test_an_unanswered_call_refunds_and_shows_no_answer(client, db, caller, contact, twilio):
    ada = await contact()
    sid = (await place(client, caller, ada["id"])).json()["sid"]
    await deliver(client, twilio.progress(sid, "no-answer"))
    got = (await client.get(f"/api/calls/{sid}", headers=caller.headers)).json()
    assert (got["status"], got["outcome"]) == ("No Answer", "no_answer")
    assert await balance(db, caller) == 100
    kinds = await db.fetch("SELECT kind, delta FROM credit_ledger ORDER BY created_at")
    assert [(r["kind"], r["delta"]) for r in kinds] == [("debit", -10), ("refund", 10)]


async def test_answering_machine_is_voicemail(client, caller, contact, twilio):
    ada = await contact()
    sid = (await place(client, caller, ada["id"])).json()["sid"]
    await deliver(client, twilio.progress(sid, answered_by="machine_end_beep"))
    got = (await client.get(f"/api/calls/{sid}", headers=caller.headers)).json()
    assert (got["status"], got["answeredBy"]) == ("Voicemail", "machine_end_beep")


async def test_forged_or_unsigned_webhooks_are_403_and_change_nothing(client, db, caller, contact, twilio):
    ada = await contact()
    sid = (await place(client, caller, ada["id"])).json()["sid"]
    callbacks = twilio.progress(sid)
    for callback in callbacks:
        assert (await callback.forged().send(client)).status_code == 403
        assert (await callback.send(client, signed=False)).status_code == 403
    tampered = callbacks[-1]
    tampered.params["CallDuration"] = "9999"
    forged = await client.post(
        tampered.url, data=tampered.params, headers={"X-Twilio-Signature": callbacks[0].signature}
    )
    assert forged.status_code == 403 and forged.json()["code"] == "invalid_signature"
    assert await db.fetchval("SELECT status FROM calls WHERE twilio_sid = $1", sid) == "queued"
    assert await db.fetchval("SELECT count(*) FROM call_events") == 0


async def test_an_unknown_call_sid_is_stored_and_answered_200(client, db, caller, contact, twilio):
    ada = await contact()
    sid = (await place(client, caller, ada["id"])).json()["sid"]
    callback = twilio.progress(sid)[0]
    callback.params["CallSid"] = "CA" + "f" * 32
    response = await callback.send(client)
    assert response.status_code == 200
    assert await db.fetchval("SELECT call_id FROM call_events WHERE call_sid = $1", "CA" + "f" * 32) is None


async def test_too_few_credits_is_402_and_nothing_is_dialed(client, db, make_user, twilio):
    poor = await make_user(credits=5)
    ada = await client.post("/api/contacts", json={"firstName": "A", "phone": "+14155550100"}, headers=poor.headers)
    response = await place(client, poor, ada.json()["id"])
    assert response.status_code == 402 and response.json()["code"] == "insufficient_credits"
    assert twilio.dials == {} and await db.fetchval("SELECT count(*) FROM calls") == 0
    assert await balance(db, poor) == 5


async def test_a_refused_dial_refunds_and_leaves_no_call(client, db, caller, contact, twilio):
    ada = await contact()
    twilio.fail_next(400, 21215, "Geo Permission configuration is not permitting call")
    response = await place(client, caller, ada["id"])
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "upstream_error" and "Geo Permission" in response.json()["message"]
    assert await db.fetchval("SELECT count(*) FROM calls") == 0
    assert await balance(db, caller) == 100


async def test_twilio_busy_is_retried(client, caller, contact, twilio):
    ada = await contact()
    twilio.fail_next(429, 20429, "Too Many Requests")
    twilio.fail_next(503, 20500, "Service unavailable")
    response = await place(client, caller, ada["id"])
    assert response.status_code == 201, response.text
    assert twilio.dials["+14155550100"] == 1


async def test_calls_reuse_one_kept_alive_connection_to_twilio(client, caller, contact, twilio):
    """A connection per request paid a TCP and TLS handshake on every dial."""
    ada = await contact()
    for _ in range(3):
        response = await place(client, caller, ada["id"])
        assert response.status_code == 201, response.text
    assert twilio.requests == 3
    assert len(twilio.connections) == 1


async def test_bad_input(client, caller, contact, make_user):
    ada = await contact()
    other = await make_user(credits=100)
    theirs = await client.post("/api/contacts", json={"firstName": "T", "phone": "+14155550111"}, headers=other.headers)
    cases = [
        ({"contactId": theirs.json()["id"]}, 404),
        ({"contactId": "42"}, 404),
        ({"contactId": ada["id"], "phoneNumber": "not a number"}, 400),
        ({"contactId": ada["id"], "script": "x" * 5000}, 400),
        ({"contactId": ada["id"], "campaignId": "00000000-0000-0000-0000-000000000000"}, 404),
        ({"contactId": ada["id"], "status": "Exploded"}, 400),
        ({}, 400),
    ]
    for body, status in cases:
        response = await client.post("/api/calls", json=body, headers=caller.headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["message"]
    assert (await client.get("/api/calls/CAnope", headers=caller.headers)).status_code == 404


async def test_opted_out_and_do_not_call_numbers_are_409(client, db, caller, contact, twilio):
    ada = await contact()
    await db.execute("UPDATE contacts SET opted_out_at = now()")
    response = await place(client, caller, ada["id"])
    assert response.status_code == 409 and "opted out" in response.json()["message"]
    await db.execute("UPDATE contacts SET opted_out_at = NULL")
    await db.execute("INSERT INTO do_not_call_numbers (user_id, phone) VALUES ($1, '+14155550100')", caller.id)
    response = await place(client, caller, ada["id"])
    assert response.status_code == 409 and "do-not-call" in response.json()["message"]
    assert twilio.dials == {}


async def test_end_a_call_and_log_it_as_the_spa_does(client, db, caller, contact, twilio):
    ada = await contact()
    sid = (await client.post("/api/call", json={"contactId": ada["id"]}, headers=caller.headers)).json()["sid"]
    live = twilio.calls[sid]
    await deliver(client, [twilio._status(live, status) for status in ("initiated", "ringing", "in-progress")])
    ended = await client.post(f"/api/call/{sid}/end", headers=caller.headers)
    assert ended.status_code == 200, ended.text
    assert ended.json()["success"] is True
    await deliver(client, [twilio._status(twilio.calls[sid], "completed", CallDuration="12")])
    again = await client.post(f"/api/calls/{sid}/end", headers=caller.headers)
    assert again.status_code == 409

    logged = await client.post(
        "/api/calls", json={"contactId": ada["id"], "status": "Appointment Set", "duration": 12}, headers=caller.headers
    )
    assert logged.status_code == 200 and logged.json()["sid"] == sid
    assert logged.json()["status"] == "Appointment Set"
    assert await db.fetchval("SELECT count(*) FROM calls") == 1


async def test_lists_page_and_filter_by_contact_and_campaign(client, caller, contact):
    ada, bob = await contact(), await contact(phone="+14155550101", firstName="Bob")
    for person in (ada, ada, bob):
        body = {"contactId": person["id"], "status": "No Answer"}
        assert (await client.post("/api/calls", json=body, headers=caller.headers)).status_code == 201
    first = await client.get("/api/calls?limit=2", headers=caller.headers)
    assert len(first.json()) == 2 and first.headers["x-next-cursor"]
    rest = await client.get(f"/api/calls?limit=2&cursor={first.headers['x-next-cursor']}", headers=caller.headers)
    assert len(rest.json()) == 1
    assert len((await client.get(f"/api/calls/contact/{ada['id']}", headers=caller.headers)).json()) == 2
    assert [c["status"] for c in first.json()] == ["No Answer", "No Answer"]


async def test_without_twilio_settings_calls_are_503_and_ready_says_why(settings, caller, contact, db):
    """A server started without Twilio's settings (services are built at start-up, so it is another app)."""
    from dataclasses import replace

    from litestar.testing import AsyncTestClient

    from service.app import create_app

    ada = await contact()
    unconfigured = create_app(replace(settings, twilio_account_sid="", twilio_auth_token=""))
    async with AsyncTestClient(app=unconfigured, base_url="http://testserver.local") as bare:
        response = await place(bare, caller, ada["id"])
        assert response.status_code == 503 and "TWILIO_ACCOUNT_SID" in response.json()["message"]
        assert await db.fetchval("SELECT count(*) FROM calls") == 0
        ready = await bare.get("/ready")
        assert ready.status_code == 200 and "TWILIO_AUTH_TOKEN" in ready.json()["twilio"]


async def test_callbacks_that_race_ahead_of_the_stored_sid_apply_when_it_is_stored(client, db, caller, contact, twilio):
    from tests.fakes.twilio import Callback

    ada = await contact()
    sid = twilio.next_call_sid = "CA" + "e" * 32
    params = {"AccountSid": twilio.account_sid, "CallSid": sid, "CallStatus": "ringing", "SequenceNumber": "1"}
    early = Callback("http://testserver.local/api/calls/status", params)
    assert (await early.send(client)).status_code == 200

    placed = await place(client, caller, ada["id"])

    assert placed.status_code == 201 and placed.json()["sid"] == sid
    assert placed.json()["twilioStatus"] == "ringing"
    assert await db.fetchval("SELECT call_id IS NOT NULL FROM call_events WHERE call_sid = $1", sid) is True

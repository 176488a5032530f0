"""SMS: credits first, opt-out by STOP/START and by Twilio's error codes, inbound texts linked to contacts."""

from __future__ import annotations

BASE = "http://testserver.local"


async def test_send_reserves_charges_and_follows_status(client, db, caller, contact, twilio):
    ada = await contact()
    response = await client.post(
        "/api/calls/sms",
        json={"contactId": ada["id"], "phoneNumber": "+14155550100", "message": "Hi"},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["success"], sent["status"], sent["contactId"]) == (True, "queued", ada["id"])
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", caller.id) == 99
    assert await db.fetchval("SELECT status FROM credit_reservations") == "charged"
    assert twilio.messages[sent["sid"]].status_callback == f"{BASE}/api/twilio/sms-status"

    for status in ("sent", "delivered", "sent"):  # the late "sent" must not move it back
        assert (await twilio.message_status(sent["sid"], status).send(client)).status_code == 200
    assert await db.fetchval("SELECT status FROM sms_messages") == "delivered"


async def test_legacy_path_and_bad_input(client, caller, contact):
    await contact()
    ok = await client.post("/api/sms", json={"phoneNumber": "+14155550100", "message": "Hi"}, headers=caller.headers)
    assert ok.status_code == 201, ok.text
    for body in (
        {"phoneNumber": "+14155550100", "message": "x" * 1601},
        {"phoneNumber": "+14155550100", "message": ""},
        {"phoneNumber": "nope", "message": "Hi"},
        {"message": "Hi"},
    ):
        response = await client.post("/api/sms", json=body, headers=caller.headers)
        assert response.status_code == 400, (body, response.text)


async def test_stop_opts_out_start_opts_back_in(client, db, caller, contact, twilio):
    ada = await contact()
    await client.post("/api/sms", json={"phoneNumber": "+14155550100", "message": "Hi"}, headers=caller.headers)
    stop = twilio.inbound_sms(f"{BASE}/api/twilio/sms", "+14155550100", " stop ")
    assert (await stop.send(client)).status_code == 200
    assert (await stop.send(client)).status_code == 200  # redelivered: stored once
    assert await db.fetchval("SELECT opted_out_at IS NOT NULL FROM contacts") is True
    inbound = await db.fetchrow("SELECT user_id, contact_id, body FROM sms_messages WHERE direction = 'inbound'")
    assert (inbound["user_id"], str(inbound["contact_id"]), inbound["body"]) == (caller.id, ada["id"], " stop ")
    assert await db.fetchval("SELECT count(*) FROM sms_messages WHERE direction = 'inbound'") == 1

    refused = await client.post(
        "/api/sms", json={"phoneNumber": "+14155550100", "message": "Hi"}, headers=caller.headers
    )
    assert refused.status_code == 409
    call = await client.post("/api/calls", json={"contactId": ada["id"]}, headers=caller.headers)
    assert call.status_code == 409

    await twilio.inbound_sms(f"{BASE}/api/twilio/sms", "+14155550100", "START").send(client)
    assert await db.fetchval("SELECT opted_out_at FROM contacts") is None


async def test_twilio_error_21610_opts_out_and_refunds(client, db, caller, contact, twilio):
    await contact()
    twilio.opted_out.add("+14155550100")
    response = await client.post(
        "/api/sms", json={"phoneNumber": "+14155550100", "message": "Hi"}, headers=caller.headers
    )
    assert response.status_code == 409 and "unsubscribed" in response.json()["message"]
    assert await db.fetchval("SELECT credits FROM users WHERE id = $1", caller.id) == 100
    assert await db.fetchval("SELECT count(*) FROM sms_messages") == 0
    assert await db.fetchval("SELECT opted_out_at IS NOT NULL FROM contacts") is True


async def test_undelivered_with_unreachable_error_opts_out(client, db, caller, contact, twilio):
    await contact()
    sent = await client.post("/api/sms", json={"phoneNumber": "+14155550100", "message": "Hi"}, headers=caller.headers)
    await twilio.message_status(sent.json()["sid"], "undelivered", error_code=30006).send(client)
    assert await db.fetchval("SELECT error_code FROM sms_messages") == 30006
    assert await db.fetchval("SELECT opted_out_at IS NOT NULL FROM contacts") is True


async def test_forged_inbound_sms_changes_nothing(client, db, caller, contact, twilio):
    await contact()
    forged = twilio.inbound_sms(f"{BASE}/api/twilio/sms", "+14155550100", "STOP").forged()
    assert (await forged.send(client)).status_code == 403
    assert await db.fetchval("SELECT opted_out_at FROM contacts") is None
    assert await db.fetchval("SELECT count(*) FROM call_events") == 0


async def test_conference_twiml(client, twilio):
    from tests.fakes.twilio import Callback

    url = f"{BASE}/api/twilio/conference/team-room"
    response = await client.get(url, headers={"X-Twilio-Signature": Callback(url, {}).signature})
    assert response.status_code == 200 and "<Conference" in response.text and "team-room" in response.text
    assert (await client.get(url)).status_code == 403

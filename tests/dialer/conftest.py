"""The dialer against the loopback Twilio, with a clock the tests move."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest

from service.db.pool import create_pool
from service.dialer.engine import Dialer, build_dialer
from service.twilio import TwilioClient
from tests.fakes.twilio import deliver, pointed_at

SCRIPT = "Hello {{firstName}}, this is Engines."


class FakeClock:
    """now() is whatever the test set; sleep() moves it on at once to when the sleeper wakes (and yields, so other
    tasks run). Sleepers that overlap end at the latest wake-up, not at the sum of their sleeps."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> Awaitable[None]:
        return self._until(self.current + timedelta(seconds=max(seconds, 0.0)))  # the wake-up, fixed when called

    async def _until(self, wake: datetime) -> None:
        self.current = max(self.current, wake)
        await asyncio.sleep(0)

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def settings(settings, twilio):
    return pointed_at(settings, twilio)


@pytest.fixture
def clock(twilio):
    """11:00 in California, 14:00 in New York, on a Wednesday: within the default hours. Twilio's fake stamps its
    calls by the same clock."""
    fake = FakeClock(datetime(2026, 12, 2, 19, 0, tzinfo=UTC))
    twilio.clock = fake.now
    return fake


@pytest.fixture
async def dialer(settings, clock, db):
    # Fast enough that pacing never gets in the way of these tests (the worker tests check pacing itself).
    await db.execute(
        "INSERT INTO dialer_pacing (account_sid, calls_per_second, max_concurrent, next_slot_at) "
        "VALUES ($1, 1000, 1000, $2)",
        settings.twilio_account_sid,
        clock.now() - timedelta(hours=1),  # the slots follow the test's clock, not the database's
    )
    pool = await create_pool(settings.database_url, min_size=1, max_size=4)  # on the test's loop
    twilio = TwilioClient(settings, retry_delays=())
    yield build_dialer(pool, settings, twilio, clock)
    await twilio.close()
    await pool.close()


@pytest.fixture
async def owner(make_user):
    return await make_user(credits=1000)


@pytest.fixture
def campaign(client, owner):
    """campaign(*phones, zone=None, rules=None, **fields) -> the campaign's JSON, with one contact per phone."""

    async def create(*phones: str, timezone: str | None = None, **fields):
        ids = []
        for index, phone in enumerate(phones):
            body = {"firstName": f"C{index}", "lastName": "Test", "phone": phone}
            if timezone:
                body["timezone"] = timezone
            response = await client.post("/api/contacts", json=body, headers=owner.headers)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        body = {"name": "Spring", "script": SCRIPT, "contactIds": ids, **fields}
        response = await client.post("/api/campaigns", json=body, headers=owner.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return create


async def start(client, owner, campaign_id, action="start"):
    response = await client.post(f"/api/campaigns/{campaign_id}/{action}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def set_rules(client, owner, campaign_id, **rules):
    response = await client.put(f"/api/campaigns/{campaign_id}/dialing", json=rules, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def dial_due(dialer: Dialer, campaign_id) -> int:
    """What the pump does once: claim everything due now and dial it; how many dials went out."""
    campaign_id = uuid.UUID(str(campaign_id))
    sent = 0
    while True:
        claim = await dialer.claim(campaign_id)
        if not claim.attempts:
            return sent
        # One after the other, as their slots come: the fake clock jumps to each wake-up at once, so dials sleeping
        # side by side would all wake at the last one's slot, past the earlier ones' send_by.
        for attempt in claim.attempts:
            await dialer.dial(attempt)
        sent += len(claim.attempts)


async def end_calls(client, db, dialer, twilio, final="completed", **options):
    """Twilio's callbacks for every live call of ours, then the dialer's `call_ended` jobs they queued."""
    live = await db.fetch(
        "SELECT twilio_sid FROM calls WHERE twilio_sid IS NOT NULL AND status NOT IN "
        "('completed', 'busy', 'failed', 'no-answer', 'canceled')"
    )
    for row in live:
        answers = await deliver(client, twilio.progress(row["twilio_sid"], final, **options))
        assert all(a.status_code == 200 for a in answers)
    await run_queued(db, "dialer.call_ended", lambda p: dialer.call_ended(uuid.UUID(p["callId"])))
    return len(live)


async def run_queued(db, name, handler) -> int:
    """Run the queued jobs `name` as the worker would, oldest first, and take them off the queue."""
    import json

    rows = await db.fetch("SELECT id, payload FROM pgqueuer WHERE entrypoint = $1 ORDER BY id", name)
    for row in rows:
        await handler(json.loads(row["payload"]))
        await db.execute("DELETE FROM pgqueuer WHERE id = $1", row["id"])
    return len(rows)


async def targets(db, campaign_id):
    rows = await db.fetch(
        "SELECT t.state, t.attempts, t.skip_reason, ct.phone FROM dialer_targets t "
        "JOIN contacts ct ON ct.id = t.contact_id WHERE t.campaign_id = $1 ORDER BY ct.phone",
        uuid.UUID(str(campaign_id)),
    )
    return {r["phone"]: (r["state"], r["attempts"], r["skip_reason"]) for r in rows}

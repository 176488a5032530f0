"""Post-call analysis: from Twilio's webhooks through a real worker to an analysed call with a live event, and
the job's promises (reruns charge nothing, no credits skips with a reason, OpenAI errors refund and retry)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from service.ai.service import CallAnalyst
from service.credits.service import CreditsService
from service.db.models.base import uuid7
from service.db.pool import create_pool
from service.errors import UpstreamFailed
from service.openai import OpenAIClient
from service.twilio import TwilioClient
from tests.fakes.openai import API_KEY, STRUCTURED_DEFAULTS
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, CALLER_ID, deliver, pointed_at
from tests.jobs.test_jobs import wait_for

REPO = Path(__file__).resolve().parents[2]
REACHIMPACT = str(Path(sys.executable).parent / "reachimpact")
ANALYSIS = STRUCTURED_DEFAULTS["CallAnalysisAnswer"]


@pytest.fixture
def settings(settings, twilio):
    return pointed_at(settings, twilio)


@pytest.fixture
async def analyst(settings, database_url):
    pool = await create_pool(database_url, min_size=1, max_size=4)
    openai, twilio = OpenAIClient(settings), TwilioClient(settings)
    yield CallAnalyst(pool, openai, twilio, settings.ai_prices, CreditsService())
    await openai.close()
    await twilio.close()
    await pool.close()


@pytest.fixture
def recorded_call(db):
    async def make(user, *, transcript="Yes, send me a quote.", translate=False):
        campaign_id = None
        if translate:
            campaign_id = uuid7()
            await db.execute(
                "INSERT INTO campaigns (id, user_id, name, translation_enabled, response_language)"
                " VALUES ($1, $2, 'Spring', true, 'es')",
                campaign_id,
                user.id,
            )
        call_id = uuid7()
        await db.execute(
            "INSERT INTO calls (id, user_id, campaign_id, twilio_sid, status, transcript, recording_url, language)"
            " VALUES ($1, $2, $3, $4, 'completed', $5, $6, 'en')",
            call_id,
            user.id,
            campaign_id,
            "CA" + call_id.hex,
            transcript,
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{call_id.hex}",
        )
        return call_id

    return make


def start_worker(database_url: str, openai_url: str, twilio_url: str) -> subprocess.Popen:
    environment = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": "x" * 40,
        "LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": openai_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": CALLER_ID,
        "TWILIO_API_BASE_URL": twilio_url,
    }
    return subprocess.Popen(
        [REACHIMPACT, "worker", "--concurrency", "2"],
        env={**os.environ, **environment},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def events(db, type_="call.analysis"):
    rows = await db.fetch("SELECT audience, data FROM events WHERE type = $1 ORDER BY id", type_)
    return [(list(r["audience"]), json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]) for r in rows]


async def test_a_recorded_call_is_analysed_by_the_worker_end_to_end(
    client, db, make_user, ledger, twilio, openai_fake, settings, database_url
):
    caller = await make_user(credits=100)
    contact = await client.post(
        "/api/contacts", json={"fullName": "Ada L", "phone": "+14155550100"}, headers=caller.headers
    )
    placed = await client.post(
        "/api/calls", json={"contactId": contact.json()["id"], "recordingEnabled": True}, headers=caller.headers
    )
    sid = placed.json()["sid"]
    await deliver(client, twilio.progress(sid, duration=42))
    await twilio.recording(sid, url="http://testserver.local/api/twilio/recording-status").send(client)
    # Twilio sent no transcription: the job downloads the recording and transcribes it.
    worker = start_worker(database_url, openai_fake.base_url, twilio.base_url)
    try:
        await wait_for(db, "SELECT status FROM call_analyses", "done", within=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    row = await db.fetchrow("SELECT * FROM call_analyses")
    assert row is not None and row["status"] == "done", errors.decode()[-2000:]
    assert (row["summary"], row["suggested_outcome"], row["credits"]) == (ANALYSIS["summary"], "interested", 8)
    call = await db.fetchrow("SELECT transcript, sentiment FROM calls WHERE twilio_sid = $1", sid)
    assert (call["transcript"], call["sentiment"]) == (openai_fake.transcript, "positive")
    assert openai_fake.paths() == ["/v1/audio/transcriptions", "/v1/chat/completions"]
    [(audience, data)] = await events(db)
    assert audience == [caller.id]
    assert (data["status"], data["followUpSuggestion"]) == ("done", ANALYSIS["followUpSuggestion"])
    got = await client.get(f"/api/calls/{sid}", headers=caller.headers)
    assert got.json()["transcript"] == openai_fake.transcript
    after = await ledger(caller)
    assert after.balance == 100 - 10 - 8  # the call, then transcription 5 + analysis 3
    assert after.reservations == [(10, "call", "charged"), (8, "ai.call_analysis", "charged")]


async def test_a_rerun_changes_nothing_and_charges_nothing(analyst, make_user, recorded_call, ledger, openai_fake, db):
    user = await make_user(credits=10)
    call_id = await recorded_call(user)
    assert await analyst.analyse(call_id) == "done"
    assert await analyst.analyse(call_id) == "done"
    assert len(openai_fake.requests) == 1  # Twilio's transcript was used; the rerun asked nothing
    assert (await ledger(user)).deltas == [(-3, "debit")]
    assert len(await events(db)) == 1


async def test_without_credits_the_call_is_skipped_with_a_reason(
    analyst, make_user, recorded_call, ledger, openai_fake, db
):
    user = await make_user(credits=2)
    call_id = await recorded_call(user)
    assert await analyst.analyse(call_id) == "skipped"
    assert await analyst.analyse(call_id) == "skipped"
    reason = await db.fetchval("SELECT reason FROM call_analyses WHERE call_id = $1", call_id)
    assert reason == "Not enough credits: 3 needed, 2 available: this call was not analysed"
    assert openai_fake.requests == []
    assert (await ledger(user)).deltas == []
    [(_, data)] = await events(db)
    assert data == {"callId": str(call_id), "status": "skipped", "reason": reason}


async def test_an_openai_failure_refunds_and_the_retry_succeeds(
    analyst, make_user, recorded_call, ledger, openai_fake, db
):
    user = await make_user(credits=10)
    call_id = await recorded_call(user)
    openai_fake.fail_next(503, times=2)
    with pytest.raises(UpstreamFailed):
        await analyst.analyse(call_id)
    assert await db.fetchval("SELECT status FROM call_analyses WHERE call_id = $1", call_id) == "pending"
    assert (await ledger(user)).balance == 10
    assert await analyst.analyse(call_id) == "done"
    assert (await ledger(user)).deltas == [(-3, "debit"), (3, "refund"), (-3, "debit")]


async def test_a_run_that_died_holding_credits_is_resumed_without_a_second_charge(
    analyst, make_user, recorded_call, ledger, db
):
    user = await make_user(credits=10)
    call_id = await recorded_call(user)
    held = uuid7()
    await db.execute(
        "INSERT INTO credit_reservations (id, user_id, amount, purpose) VALUES ($1, $2, 3, 'ai.call_analysis')",
        held,
        user.id,
    )
    await db.execute(
        "INSERT INTO call_analyses (call_id, user_id, credit_reservation_id) VALUES ($1, $2, $3)",
        call_id,
        user.id,
        held,
    )
    assert await analyst.analyse(call_id) == "done"
    assert (await ledger(user)).reservations == [(3, "ai.call_analysis", "charged")]


async def test_a_campaign_with_translation_gets_a_translated_transcript(
    analyst, make_user, recorded_call, ledger, openai_fake, db
):
    user = await make_user(credits=10)
    call_id = await recorded_call(user, translate=True)
    assert await analyst.analyse(call_id) == "done"
    translated = await db.fetchval("SELECT translated_transcript FROM calls WHERE id = $1", call_id)
    assert translated == "(fake) Yes, send me a quote."
    assert "Spanish" in openai_fake.requests[0]["body"]["messages"][0]["content"]
    assert (await ledger(user)).balance == 10 - 3 - 1


async def test_a_call_without_recording_or_transcript_is_skipped(analyst, make_user, recorded_call, db, openai_fake):
    user = await make_user(credits=10)
    call_id = await recorded_call(user, transcript=None)
    await db.execute("UPDATE calls SET recording_url = NULL WHERE id = $1", call_id)
    assert await analyst.analyse(call_id) == "skipped"
    assert openai_fake.requests == []

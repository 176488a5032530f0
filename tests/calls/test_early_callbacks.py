"""A status callback that arrives while its call's sid is being written is never lost (two real transactions)."""

from __future__ import annotations

import asyncio
import uuid

from service.calls import repository
from service.db.pool import connect

SID = "CA" + "1" * 32


async def test_a_callback_racing_the_sid_write_is_adopted_not_lost(database_url, db, make_user):
    owner = await make_user()
    call_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO calls (id, user_id, phone_number, status, direction) VALUES ($1, $2, '+14155550100', "
        "'queued', 'outbound-api')",
        call_id,
        owner.id,
    )
    webhook, dialer = await connect(database_url), await connect(database_url)
    try:
        webhook_transaction = webhook.transaction()
        await webhook_transaction.start()
        # Twilio's callback: no call holds the sid yet, so it is stored unlinked (not committed yet).
        assert await repository.insert_event(webhook, SID, 3, "status", {"CallStatus": "failed"}) == (True, None)

        async def write_sid() -> list:
            async with dialer.transaction():
                await repository.record_dialed(dialer, call_id, SID, "queued")
                return await repository.adopt_early_events(dialer, call_id, SID)

        writing = asyncio.create_task(write_sid())
        await asyncio.sleep(0.3)
        assert not writing.done()  # it waits for the callback's transaction instead of missing its row
        await webhook_transaction.commit()
        assert await asyncio.wait_for(writing, 10) == [{"CallStatus": "failed"}]
    finally:
        await webhook.close()
        await dialer.close()

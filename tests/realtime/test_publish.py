"""publish(): an events row in the caller's transaction, announced by a NOTIFY carrying only its id."""

from __future__ import annotations

import asyncio

import pytest

from service.db.pool import connect
from service.realtime import publish
from service.realtime.events import CHANNEL


async def test_a_committed_event_is_a_row_and_a_notify_with_its_id(db, database_url, make_user):
    user = await make_user()
    listener = await connect(database_url)
    received: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: received.put_nowait(args[-1]))
    try:
        async with db.transaction():
            event_id = await publish(db, [user.id, user.id], "call.status", {"callId": "c1", "status": "ringing"})
            assert received.empty()  # nothing is announced before the commit
        assert await asyncio.wait_for(received.get(), 5) == str(event_id)
    finally:
        await listener.close()
    row = await db.fetchrow("SELECT audience, type, data FROM events WHERE id = $1", event_id)
    assert row["audience"] == [user.id]  # duplicates folded
    assert (row["type"], row["data"]) == ("call.status", {"callId": "c1", "status": "ringing"})


async def test_a_rolled_back_event_leaves_no_row(db, make_user):
    user = await make_user()
    with pytest.raises(RuntimeError, match="request failed"):
        async with db.transaction():
            await publish(db, [user.id], "call.status", {})
            raise RuntimeError("the request failed")
    assert await db.fetchval("SELECT count(*) FROM events") == 0


async def test_ids_follow_commit_order(db, database_url, make_user):
    user = await make_user()
    other = await connect(database_url)
    try:
        first = db.transaction()
        await first.start()
        first_id = await publish(db, [user.id], "a", {})
        second = other.transaction()
        await second.start()
        late = asyncio.create_task(publish(other, [user.id], "b", {}))
        await asyncio.sleep(0.2)
        assert not late.done()  # waits for the first publisher's commit
        await first.commit()
        second_id = await late
        await second.commit()
    finally:
        await other.close()
    assert second_id > first_id


async def test_publish_outside_a_transaction_and_without_audience_is_refused(db, make_user):
    user = await make_user()
    with pytest.raises(RuntimeError, match="inside the transaction"):
        await publish(db, [user.id], "x", {})
    async with db.transaction():
        with pytest.raises(ValueError, match="audience"):
            await publish(db, [], "x", {})

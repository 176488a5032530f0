"""The hub's resume logic, driven step by step: an event that is both replayed and delivered live goes out once."""

from __future__ import annotations

import uuid

from service.db.pool import create_pool
from service.realtime.hub import EventHub
from tests.realtime.streams import emit


async def test_an_event_committed_during_the_replay_is_sent_once(database_url, db, make_user):
    me = await make_user()
    [before] = await emit(db, me)
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        hub = EventHub(pool)
        hub.last_seen = before
        with hub.subscription(me.id, uuid.uuid4()) as subscriber:
            during = await emit(db, me, 2)
            await hub._read_new()  # the live path queues them while ...
            replay = await hub.replay(subscriber, before)  # ... the resume read returns them as missed
            assert [event.id for event in replay.events] == during
            [after] = await emit(db, me)
            await hub._read_new()
            assert (await subscriber.next(1.0)).id == after  # the queued copies of `during` are skipped
            assert await subscriber.next(0.1) is None
    finally:
        await pool.close()

"""The process's LISTEN connection: killed, it comes back and the hub catches up on what was committed meanwhile."""

from __future__ import annotations

import asyncio
import uuid

from service.realtime import publish
from service.realtime.listener import APPLICATION_NAME

LISTENER = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()"


async def test_events_committed_while_the_listener_is_down_arrive_after_it_reconnects(app, client, db, make_user):
    user = await make_user()
    hub, listener = app.state.events, app.state.realtime
    with hub.subscription(user.id, uuid.uuid4()) as subscriber:
        connects = listener.connects
        await db.execute("SELECT pg_terminate_backend($1)", await db.fetchval(LISTENER, APPLICATION_NAME))
        async with db.transaction():  # committed while nobody may be listening
            event_id = await publish(db, [user.id], "call.status", {"status": "ringing"})
        # Awaited on the app's loop (the test client runs it in a thread of its own), where the hub queues events:
        # awaited here, the queue would not wake this loop, and only the timeout would end the wait.
        event = await asyncio.wrap_future(client.blocking_portal.start_task_soon(subscriber.next, 10))
    assert event is not None and event.id == event_id
    assert listener.connects == connects + 1

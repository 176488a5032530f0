"""Live delivery across two real service processes on one database, clients connected to each.

Messages sent through either process reach every participant's stream on either process, in order, once;
a stream that reconnects with its last event id gets what it missed; a non-member's stream gets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.chat.conftest import SEND_LIMIT

WAIT = 10.0
# Alice's concurrent sends stay within the per-user limit the two services share.
SENT = SEND_LIMIT


@dataclass
class Event:
    id: int
    type: str
    data: dict[str, Any]


class Stream:
    """One browser's event stream (SSE), read in the background into a queue."""

    def __init__(self, base: str, user, last_event_id: int | None = None) -> None:
        self.base, self.user, self.last_event_id = base, user, last_event_id
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        headers = {**self.user.headers, "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        async with (
            httpx.AsyncClient(base_url=self.base, timeout=None) as http,
            http.stream("GET", "/api/events", headers=headers) as response,
        ):
            assert response.status_code == 200
            self.connected.set()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = fields.get(name, "") + value.removeprefix(" ")
                    continue
                if "data" in fields and "id" in fields:
                    self.events.put_nowait(event_of(fields))
                fields = {}

    async def chat(self, count: int) -> list[Event]:
        """The next `count` chat events (heartbeats and other features' events skipped)."""
        out: list[Event] = []
        while len(out) < count:
            event = await asyncio.wait_for(self.events.get(), WAIT)
            if event.type.startswith("chat."):
                out.append(event)
        return out

    async def nothing_more(self, seconds: float = 1.0) -> None:
        await asyncio.sleep(seconds)
        assert [e for e in drain(self.events) if e.type.startswith("chat.")] == []


def event_of(fields: dict[str, str]) -> Event:
    # The stream names each event by its type; `data:` is the event's data alone.
    return Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))


def drain(queue: asyncio.Queue[Event]) -> list[Event]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


@contextlib.asynccontextmanager
async def streams(*streams: Stream) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(s.run()) for s in streams]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in streams)), WAIT)
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def channel(base: str, owner, *members) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/api/chat/rooms",
            json={"kind": "channel", "name": "Team", "participantIds": [str(m.id) for m in members]},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]


async def send(base: str, user, room: str, content: str, **extra) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            f"/api/chat/rooms/{room}/messages", json={"content": content, **extra}, headers=user.headers
        )
        assert response.status_code in (200, 201), response.text
        return response.json()


async def test_messages_reach_members_on_both_instances_in_order_once_and_nobody_else(two_services, make_user):
    a, b = two_services
    alice, bob, outsider = await make_user(), await make_user(), await make_user()
    room = await channel(a, alice, bob)
    alice_on_a, bob_on_b, outsider_on_b, outsider_on_a = (
        Stream(a, alice),
        Stream(b, bob),
        Stream(b, outsider),
        Stream(a, outsider),
    )
    async with streams(alice_on_a, bob_on_b, outsider_on_b, outsider_on_a):
        # Concurrent sends through both processes; one of them retried with its client id.
        sent = await asyncio.gather(*(send((a, b)[i % 2], alice, room, f"m{i}", clientId=None) for i in range(SENT)))
        retry = {"clientId": "0190d1b0-0000-7000-8000-000000000001"}
        first = await send(a, bob, room, "once", **retry)
        assert (await send(b, bob, room, "once", **retry))["id"] == first["id"]

        for stream in (alice_on_a, bob_on_b):
            events = await stream.chat(SENT + 1)
            assert [e.type for e in events] == ["chat.message"] * (SENT + 1)
            ids = [e.data["message"]["id"] for e in events]
            assert sorted(ids[:SENT]) == sorted(m["id"] for m in sent) and ids[SENT] == first["id"]
            assert len(set(ids)) == SENT + 1
            assert [e.id for e in events] == sorted(e.id for e in events)
            # Events are in the order the messages were committed, which is their order in the room.
            times = [e.data["message"]["createdAt"] for e in events]
            assert times == sorted(times)
            await stream.nothing_more(0.5)
        await outsider_on_b.nothing_more()
        await outsider_on_a.nothing_more(0)


async def test_a_stream_that_reconnects_with_its_last_event_id_gets_what_it_missed(two_services, make_user):
    a, b = two_services
    alice, bob = await make_user(), await make_user()
    room = await channel(a, alice, bob)
    bob_on_b = Stream(b, bob)
    async with streams(bob_on_b):
        await send(a, alice, room, "seen")
        (seen,) = await bob_on_b.chat(1)
    # Offline: messages, an edit, a delete and a read receipt happen meanwhile, through both processes.
    missed = [await send((a, b)[i % 2], alice, room, f"missed {i}") for i in range(3)]
    async with httpx.AsyncClient(base_url=b) as http:
        path = f"/api/chat/messages/{missed[0]['id']}"
        assert (await http.patch(path, json={"content": "edited"}, headers=alice.headers)).status_code == 200
        assert (await http.delete(f"/api/chat/messages/{missed[1]['id']}", headers=alice.headers)).status_code == 200
        assert (await http.put(f"/api/chat/rooms/{room}/read", headers=alice.headers)).status_code == 200

    back_on_a = Stream(a, bob, last_event_id=seen.id)
    async with streams(back_on_a):
        events = await back_on_a.chat(6)
        assert [e.type for e in events] == [
            "chat.message",
            "chat.message",
            "chat.message",
            "chat.message.edited",
            "chat.message.deleted",
            "chat.read",
        ]
        assert [e.data["message"]["content"] for e in events[:3]] == ["missed 0", "missed 1", "missed 2"]
        assert events[3].data["message"]["content"] == "edited"
        assert events[4].data["messageId"] == missed[1]["id"]
        assert events[5].data["userId"] == str(alice.id)
        assert all(e.id > seen.id for e in events)
        # Live again: the next message arrives once, after the replay.
        await send(b, alice, room, "live")
        (live,) = await back_on_a.chat(1)
        assert live.data["message"]["content"] == "live" and live.id > events[-1].id
        await back_on_a.nothing_more(0.5)


async def test_typing_reaches_the_other_participants(two_services, make_user):
    a, b = two_services
    alice, bob, outsider = await make_user(), await make_user(), await make_user()
    room = await channel(a, alice, bob)
    bob_on_b, outsider_on_b = Stream(b, bob), Stream(b, outsider)
    async with streams(bob_on_b, outsider_on_b):
        async with httpx.AsyncClient(base_url=a) as http:
            assert (await http.post(f"/api/chat/rooms/{room}/typing", headers=alice.headers)).status_code == 200
            foreign = await http.post(f"/api/chat/rooms/{room}/typing", headers=outsider.headers)
            assert foreign.status_code == 404
        (typing,) = await bob_on_b.chat(1)
        assert (typing.type, typing.data) == ("chat.typing", {"roomId": room, "userId": str(alice.id)})
        await outsider_on_b.nothing_more()

"""Owner isolation: every route that takes an id, called by another user, answers 404 and changes nothing.

The realtime rows (last test): each user's event stream carries only the events about their own data, live and
on resume, while the other user makes their own data and probes every route of PROBES.

To extend it for a new feature, add rows to PROBES (and, if the route needs rows of a new kind, create them for
both users in `world` and snapshot their table in TABLES). Each row is checked twice: the intruder gets 404 with
the database unchanged, and the owner making the same request gets a 2xx, which proves the 404 comes from
ownership and not from a wrong path or body.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.realtime.streams import emit, open_stream, running_service, until

# Tables whose rows must not change when an intruder calls.
TABLES = (
    "contacts",
    "campaigns",
    "campaign_contacts",
    "chat_rooms",
    "chat_participants",
    "chat_messages",
    "dialer_rules",
    "dialer_targets",
    "do_not_call_numbers",
)
# A number on each user's do-not-call list.
LISTED = "+14155550111"


@dataclass(frozen=True)
class Probe:
    method: str
    # Placeholders: {contact}, {campaign}, {room} (a channel) and {message} (in it) are the victim's;
    # {own_contact}, {own_campaign} and {own_room} the caller's, {intruder} the caller's user id.
    path: str
    body: Any = None
    # The victim's campaign is put in this status first, so that the owner's control request is a valid one.
    campaign_status: str = "paused"
    # False when the request only makes sense for the intruder (e.g. linking into their own campaign).
    owner_control: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


PROBES = [
    Probe("GET", "/api/contacts/{contact}"),
    Probe("PUT", "/api/contacts/{contact}", {"firstName": "Mallory", "phone": "+14155550199"}),
    Probe("PATCH", "/api/contacts/{contact}", {"status": "do_not_call"}),
    Probe("DELETE", "/api/contacts/{contact}"),
    Probe("GET", "/api/contacts?campaignId={campaign}"),
    Probe("GET", "/api/contacts/search?q=victim&campaignId={campaign}"),
    Probe("GET", "/api/campaigns/{campaign}"),
    Probe("PUT", "/api/campaigns/{campaign}", {"name": "Mallory", "contactIds": []}),
    Probe("DELETE", "/api/campaigns/{campaign}"),
    Probe("POST", "/api/campaigns/{campaign}/start"),
    Probe("POST", "/api/campaigns/{campaign}/pause", campaign_status="active"),
    Probe("POST", "/api/campaigns/{campaign}/complete"),
    Probe("GET", "/api/campaigns/{campaign}/contacts"),
    Probe("POST", "/api/campaigns/{campaign}/contacts", {"contactIds": ["{contact}"]}),
    Probe("DELETE", "/api/campaigns/{campaign}/contacts", {"contactIds": ["{contact}"]}),
    # The intruder's own campaign, the victim's contact: never linked.
    Probe("POST", "/api/campaigns/{own_campaign}/contacts", {"contactIds": ["{contact}"]}, owner_control=False),
    Probe("PUT", "/api/campaigns/{own_campaign}", {"contactIds": ["{contact}"]}, owner_control=False),
    Probe("POST", "/api/campaigns", {"name": "Mallory", "contactIds": ["{contact}"]}, owner_control=False),
    Probe("GET", "/api/calls/{call}"),
    Probe("GET", "/api/call/{call}"),
    Probe("GET", "/api/calls/contact/{contact}"),
    Probe("GET", "/api/calls/campaign/{campaign}"),
    Probe("GET", "/api/calls?campaignId={campaign}"),
    Probe("POST", "/api/calls", {"contactId": "{contact}", "status": "Completed"}),
    Probe("GET", "/api/analytics/campaigns/{campaign}"),
    Probe("GET", "/api/analytics/overview?campaignId={campaign}"),
    Probe("GET", "/api/analytics/series?campaignId={campaign}"),
    Probe("GET", "/api/analytics/export?campaignId={campaign}"),
    Probe(
        "POST",
        "/api/calls",
        {"contactId": "{own_contact}", "campaignId": "{campaign}", "status": "Completed"},
        owner_control=False,
    ),
    Probe("GET", "/api/chat/rooms/{room}"),
    Probe("DELETE", "/api/chat/rooms/{room}"),
    Probe("GET", "/api/chat/rooms/{room}/members"),
    Probe("POST", "/api/chat/rooms/{room}/members", {"userIds": ["{intruder}"]}),
    Probe("GET", "/api/chat/rooms/{room}/messages"),
    Probe("POST", "/api/chat/rooms/{room}/messages", {"content": "Mallory was here"}),
    Probe("PUT", "/api/chat/rooms/{room}/read"),
    Probe("POST", "/api/chat/rooms/{room}/typing"),
    Probe("POST", "/api/chat/messages", {"roomId": "{room}", "content": "Mallory was here"}),
    Probe("PATCH", "/api/chat/messages/{message}", {"content": "Mallory was here"}),
    Probe("DELETE", "/api/chat/messages/{message}"),
    Probe("GET", "/api/campaigns/{campaign}/dialing"),
    Probe("PUT", "/api/campaigns/{campaign}/dialing", {"maxAttempts": 2, "callingStart": "09:00"}),
    # Each account's list is its own: the intruder's delete names a number only the victim listed.
    Probe("DELETE", "/api/do-not-call/{listed}"),
    # The intruder's own room, the victim's message: no read marker moves to it.
    Probe("PUT", "/api/chat/rooms/{own_room}/read", {"messageId": "{message}"}, owner_control=False),
]


def substitute(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return text


async def snapshot(db) -> dict[str, list]:
    return {table: [tuple(row) for row in await db.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")] for table in TABLES}


async def make_world(client, user, status: str) -> dict[str, str]:
    """A contact "Victim", a campaign holding it (with a script, in `status`), and a chat channel of the user's
    with a message "Victim", through the API."""
    contact = await client.post(
        "/api/contacts", json={"firstName": "Victim", "phone": "+14155550100"}, headers=user.headers
    )
    campaign = await client.post(
        "/api/campaigns",
        json={"name": "Theirs", "script": "Hello", "contactIds": [contact.json()["id"]], "status": "active"},
        headers=user.headers,
    )
    campaign_id = campaign.json()["id"]
    if status == "paused":
        await client.post(f"/api/campaigns/{campaign_id}/pause", headers=user.headers)
    call = await client.post(
        "/api/calls", json={"contactId": contact.json()["id"], "status": "Completed"}, headers=user.headers
    )
    room = await client.post("/api/chat/rooms", json={"kind": "channel", "name": "Theirs"}, headers=user.headers)
    message = await client.post(
        f"/api/chat/rooms/{room.json()['id']}/messages", json={"content": "Victim"}, headers=user.headers
    )
    listed = await client.post("/api/do-not-call", json={"phoneNumber": LISTED}, headers=user.headers)
    assert listed.status_code == 201, listed.text
    return {
        "listed": LISTED,
        "contact": contact.json()["id"],
        "campaign": campaign_id,
        "call": call.json()["id"],
        "room": room.json()["id"],
        "message": message.json()["id"],
    }


async def call(client, user, probe: Probe, ids: dict[str, str]):
    body = None if probe.body is None else json.loads(substitute(json.dumps(probe.body), ids))
    return await client.request(probe.method, substitute(probe.path, ids), json=body, headers=user.headers)


@pytest.mark.parametrize("probe", PROBES, ids=str)
async def test_another_users_ids_are_404_and_change_nothing(client, db, make_user, probe):
    victim, intruder = await make_user(), await make_user()
    theirs = await make_world(client, victim, probe.campaign_status)
    mine = await make_world(client, intruder, "paused")
    await client.delete(f"/api/do-not-call/{LISTED}", headers=intruder.headers)  # only the victim lists it
    ids = {
        **theirs,
        "own_contact": mine["contact"],
        "own_campaign": mine["campaign"],
        "own_room": mine["room"],
        "intruder": str(intruder.id),
    }
    before = await snapshot(db)

    response = await call(client, intruder, probe, ids)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    assert "Victim" not in response.text
    assert await snapshot(db) == before
    if probe.owner_control:
        control = await call(client, victim, probe, {**ids, "own_contact": theirs["contact"]})
        assert 200 <= control.status_code < 300, control.text


async def test_lists_and_search_show_only_the_callers_rows(client, make_user):
    victim, intruder = await make_user(), await make_user()
    await make_world(client, victim, "paused")
    lists = (
        "/api/contacts",
        "/api/contacts/search?q=victim",
        "/api/campaigns",
        "/api/calls",
        "/api/chat/rooms",
        "/api/chat/messages",
        f"/api/chat/messages/{victim.id}",
        "/api/analytics/activity",
        "/api/do-not-call",
    )
    for path in lists:
        response = await client.get(path, headers=intruder.headers)
        assert (response.status_code, response.json()) == (200, []), path
    for path in lists[:6]:
        assert len((await client.get(path, headers=victim.headers)).json()) == 1, path
    unread = await client.get("/api/chat/messages/unread/count", headers=intruder.headers)
    assert unread.json() == {"count": 0}
    feed = (await client.get("/api/analytics/activity", headers=victim.headers)).json()
    assert {item["kind"] for item in feed} == {"contacts.added", "campaign.started", "call.finished"}
    exports = [
        (await client.get("/api/analytics/export", headers=user.headers)).text.splitlines()
        for user in (intruder, victim)
    ]
    assert [len(lines) for lines in exports] == [1, 2]  # the header alone; the header and the victim's call


async def test_a_read_receipt_for_someone_elses_conversation_changes_nothing(client, db, make_user):
    alice, bob, intruder = await make_user(), await make_user(), await make_user()
    await client.post(
        "/api/chat/messages", json={"content": "Victim", "recipientId": str(bob.id)}, headers=alice.headers
    )
    before = await snapshot(db)
    response = await client.put(f"/api/chat/messages/read/{alice.id}", headers=intruder.headers)
    assert response.status_code == 200
    assert await snapshot(db) == before
    assert (await client.get("/api/chat/messages/unread/count", headers=bob.headers)).json() == {"count": 1}


@pytest.mark.parametrize("kind", ["sse", "ws"])
async def test_event_streams_carry_only_the_callers_events(kind, database_url, db, make_user):
    """The realtime rows: what the victim's own actions publish reaches the victim's stream, live and on resume,
    and never the intruder's, whatever the intruder does meanwhile (every probe of PROBES, the writes included)."""
    victim, intruder = await make_user(), await make_user()
    with running_service(database_url) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=10) as http,
            open_stream(kind, base, victim.headers) as victims,
            open_stream(kind, base, intruder.headers) as intruders,
        ):
            await asyncio.sleep(0.3)
            theirs = await make_world(http, victim, "paused")
            mine = await make_world(http, intruder, "paused")
            await http.delete(f"/api/do-not-call/{LISTED}", headers=intruder.headers)
            ids = {**theirs, "own_contact": mine["contact"], "own_campaign": mine["campaign"], "own_room": mine["room"]}
            for probe in PROBES:
                assert (await call(http, intruder, probe, {**ids, "intruder": str(intruder.id)})).status_code == 404
            [victim_end], [intruder_end] = (
                await emit(db, victim, type="test.end"),
                await emit(db, intruder, type="test.end"),
            )
            seen_by_victim = [m for m in await until(victims, "test.end")]
            seen_by_intruder = [m for m in await until(intruders, "test.end")]
    victims_events = await db.fetch("SELECT id FROM events WHERE $1 = ANY(audience) ORDER BY id", victim.id)
    intruders_events = await db.fetch("SELECT id FROM events WHERE $1 = ANY(audience) ORDER BY id", intruder.id)
    assert len(victims_events) > 1  # the world's chat events, and the end marker
    assert [m.id for m in seen_by_victim] == [row["id"] for row in victims_events]
    assert [m.id for m in seen_by_intruder] == [row["id"] for row in intruders_events]
    assert not {m.id for m in seen_by_intruder} & {row["id"] for row in victims_events}
    assert (victim_end, intruder_end) == (seen_by_victim[-1].id, seen_by_intruder[-1].id)
    with running_service(database_url) as base:
        # Resuming from before everything replays the caller's own events only.
        async with open_stream(kind, base, intruder.headers, last_event_id=0) as resumed:
            replayed = await until(resumed, "test.end")
    assert [m.id for m in replayed] == [row["id"] for row in intruders_events]

"""Bad input is a 400 that names the problem, on every route family, and nothing is written.

One test per class of bad input (NUL characters, deep JSON, invalid UTF-8, non-ASCII digits, dates outside the
years a database can hold), each over every route family that takes that kind of input. The database is
fingerprinted (every row of every table) before and after: a refused request leaves no trace, not even a
throttle count.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

NUL = "\u0000"
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"
CAMPAIGN_ID = "00000000-0000-7000-8000-00000000c0de"


async def fingerprint(db: asyncpg.Connection) -> dict[str, str]:
    """Every public table's rows, hashed: any insert, update or delete changes it."""
    tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    prints = {}
    for (table,) in tables:
        prints[table] = await db.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} AS t"
        )
    return prints


@pytest.fixture
async def caller(make_user, db):
    """An administrator (so the admin routes are in reach too) with credits and one campaign of their own."""
    user = await make_user(role="admin", credits=100)
    await db.execute(
        "INSERT INTO campaigns (id, user_id, name, status) VALUES ($1, $2, 'Spring', 'draft')",
        uuid.UUID(CAMPAIGN_ID),
        user.id,
    )
    return user


async def refused(client, db, method: str, path: str, *, headers=None, **kwargs):
    """The answer to a request that must be a 400, checked to have written nothing."""
    before = await fingerprint(db)
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 400, response.text
    assert await fingerprint(db) == before
    body = response.json()
    assert set(body) == {"message", "code", "requestId", "details"}
    return body


# (family, method, path, JSON body with a NUL in one field, the field the answer names)
NUL_IN_BODIES = [
    ("login", "POST", "/api/auth/login", {"email": f"ada{NUL}@example.com", "password": "x"}, "email"),
    (
        "register",
        "POST",
        "/api/auth/register",
        {"email": "new@example.com", "password": "correct horse 1", "fullName": f"Ada{NUL}"},
        "fullName",
    ),
    ("profile", "PUT", "/api/user/profile", {"fullName": f"Ada{NUL}"}, "fullName"),
    ("credits", "POST", "/api/user/credits", {"amount": -1, "reason": f"lunch{NUL}"}, "reason"),
    ("contacts", "POST", "/api/contacts", {"firstName": f"Ada{NUL}"}, "firstName"),
    ("contacts", "PUT", f"/api/contacts/{CAMPAIGN_ID}", {"notes": f"x{NUL}"}, "notes"),
    (
        "bulk",
        "POST",
        "/api/contacts/bulk?partial=true",
        {"contacts": [{"firstName": "Ada"}, {"firstName": "Bo", "tags": ["vip", f"x{NUL}"]}]},
        "contacts[1].tags[1]",
    ),
    ("campaigns", "POST", "/api/campaigns", {"name": f"Spring{NUL}"}, "name"),
    ("campaigns", "PUT", f"/api/campaigns/{CAMPAIGN_ID}", {"script": f"Hello{NUL}"}, "script"),
    ("chat", "POST", "/api/chat/messages", {"content": f"hi{NUL}", "roomId": "general"}, "content"),
    ("chat", "POST", "/api/chat/rooms", {"kind": "group", "name": f"Team{NUL}"}, "name"),
    ("calls", "POST", "/api/calls", {"contactId": CAMPAIGN_ID, "script": f"Hi{NUL}"}, "script"),
    ("calls", "POST", "/api/calls/sms", {"phoneNumber": "+14155550100", "message": f"hi{NUL}"}, "message"),
    ("ai", "POST", "/api/openai/translate", {"text": f"hello{NUL}", "targetLanguage": "fr"}, "text"),
    ("ai", "POST", "/api/translate", {"text": "hello", "targetLanguage": f"fr{NUL}"}, "targetLanguage"),
    ("dialer", "POST", "/api/do-not-call", {"phoneNumber": "+14155550100", "reason": f"asked{NUL}"}, "reason"),
    ("dialer", "PUT", f"/api/campaigns/{CAMPAIGN_ID}/dialing", {"voicemailMessage": f"Hi{NUL}"}, "voicemailMessage"),
    ("keys", "POST", "/api/contacts", {f"first{NUL}Name": "Ada"}, "body"),
]


@pytest.mark.parametrize(
    ("family", "method", "path", "body", "field"), NUL_IN_BODIES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in NUL_IN_BODIES]
)
async def test_nul_in_a_json_body_is_refused_naming_the_field(client, db, caller, family, method, path, body, field):
    answer = await refused(client, db, method, path, headers=caller.headers, json=body)
    assert answer["code"] == "invalid_text"
    assert answer["message"] == f"Invalid {field}: {NUL_MESSAGE}"
    assert answer["details"] == [{"field": field, "message": NUL_MESSAGE}]


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(client, db, caller):
    """`\\\\u0000` in JSON is a backslash and the letters "u0000": stored as sent."""
    response = await client.post("/api/contacts", headers=caller.headers, json={"firstName": "Ada\\u0000"})
    assert response.status_code == 201, response.text
    assert await db.fetchval("SELECT first_name FROM contacts") == "Ada\\u0000"


NUL_IN_QUERIES = [
    ("search", "/api/contacts/search?q=%00", "q"),
    ("tag", "/api/contacts?tag=vip%00", "tag"),
    ("contacts", "/api/contacts?q=a%00b", "q"),
    ("campaigns", f"/api/campaigns/{CAMPAIGN_ID}/contacts?tag=%00", "tag"),
    ("admin", "/api/admin/users?search=%00", "search"),
    ("calls", "/api/calls?cursor=%00", "cursor"),
    ("chat", "/api/chat/messages?cursor=%00", "cursor"),
    ("analytics", "/api/analytics/overview?tz=UTC%00", "tz"),
    ("login", "/api/auth/verify?x%00=1", "x"),
    ("dialer", "/api/do-not-call?after=%2B1%00", "after"),
    ("path", "/api/contacts/%00", "path"),
]


@pytest.mark.parametrize(("family", "path", "field"), NUL_IN_QUERIES, ids=[c[0] for c in NUL_IN_QUERIES])
async def test_nul_in_a_query_parameter_or_path_is_refused_naming_it(client, db, caller, family, path, field):
    answer = await refused(client, db, "GET", path, headers=caller.headers)
    assert answer["code"] == "invalid_text"
    assert answer["details"] == [{"field": field, "message": NUL_MESSAGE}]


async def test_nul_in_a_csv_file_rejects_its_row(client, db, caller):
    csv = f"First Name,Phone\nAda{NUL},+14155550100\nGrace,+14155550101\n"
    answer = await refused(
        client, db, "POST", "/api/contacts/import", headers={**caller.headers, "content-type": "text/csv"}, content=csv
    )
    assert answer["code"] == "rejected_rows"
    assert answer["details"] == [{"field": "rows[0]", "message": f"firstName: {NUL_MESSAGE}"}]

    partial = await client.post(
        "/api/contacts/import?partial=true", headers={**caller.headers, "content-type": "text/csv"}, content=csv
    )
    assert partial.status_code == 201, partial.text
    assert partial.json()["rejected"] == [{"index": 0, "reason": f"firstName: {NUL_MESSAGE}"}]
    assert await db.fetchval("SELECT array_agg(first_name) FROM contacts") == ["Grace"]


# Every route family that decodes a JSON body: (family, method, path).
JSON_ROUTES = [
    ("login", "POST", "/api/auth/login"),
    ("register", "POST", "/api/auth/register"),
    ("profile", "PUT", "/api/user/profile"),
    ("credits", "POST", "/api/user/credits"),
    ("contacts", "POST", "/api/contacts"),
    ("bulk", "POST", "/api/contacts/bulk"),
    ("campaigns", "POST", "/api/campaigns"),
    ("campaigns", "PUT", f"/api/campaigns/{CAMPAIGN_ID}"),
    ("chat", "POST", "/api/chat/messages"),
    ("calls", "POST", "/api/calls"),
    ("ai", "POST", "/api/openai/chat"),
    ("ai", "POST", "/api/chat"),
    ("dialer", "POST", "/api/do-not-call"),
    ("dialer", "PUT", f"/api/campaigns/{CAMPAIGN_ID}/dialing"),
]
JSON_IDS = [f"{family}-{method}-{path}" for family, method, path in JSON_ROUTES]


@pytest.mark.parametrize(("family", "method", "path"), JSON_ROUTES, ids=JSON_IDS)
async def test_json_nested_too_deep_is_refused(client, db, caller, family, method, path):
    deep = "[" * 10_000 + "]" * 10_000
    answer = await refused(
        client, db, method, path, headers={**caller.headers, "content-type": "application/json"}, content=deep
    )
    assert answer["code"] == "invalid_json"
    assert answer["message"] == "The body is not valid JSON: nested deeper than 64 levels"


async def test_json_64_levels_deep_is_decoded(client, caller):
    """At the limit the body reaches the route, which then judges it (here: not an object)."""
    response = await client.post(
        "/api/contacts",
        headers={**caller.headers, "content-type": "application/json"},
        content="[" * 64 + "]" * 64,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(("family", "method", "path"), JSON_ROUTES, ids=JSON_IDS)
async def test_invalid_utf8_in_a_json_string_is_refused(client, db, caller, family, method, path):
    answer = await refused(
        client,
        db,
        method,
        path,
        headers={**caller.headers, "content-type": "application/json"},
        content=b'{"contacts": ["\xcd*"], "email": "\xcd*"}',
    )
    assert answer["code"] == "invalid_json"
    assert answer["message"] == "The body is not valid JSON: the body is not valid UTF-8"


LIMITED_LISTS = [
    ("contacts", "/api/contacts"),
    ("search", "/api/contacts/search?q=ada&"),
    ("campaigns", "/api/campaigns"),
    ("members", f"/api/campaigns/{CAMPAIGN_ID}/contacts"),
    ("calls", "/api/calls"),
    ("chat", "/api/chat/messages"),
    ("admin", "/api/admin/users"),
    ("dialer", "/api/do-not-call"),
]


@pytest.mark.parametrize("digits", ["%C2%B2", "%EF%BC%91", "%D9%A3", "1%C2%B2", "-1", "%205", "0"])
@pytest.mark.parametrize(("family", "path"), LIMITED_LISTS, ids=[c[0] for c in LIMITED_LISTS])
async def test_limit_takes_ascii_digits_only(client, db, caller, family, path, digits):
    """Superscript two, a fullwidth one and an Arabic-Indic three pass str.isdigit(); the API reads none of them."""
    separator = "" if path.endswith("&") else "?"
    answer = await refused(client, db, "GET", f"{path}{separator}limit={digits}", headers=caller.headers)
    assert answer["details"][0]["field"] == "limit"


async def test_event_stream_resume_point_takes_ascii_digits_only(client, db, caller):
    answer = await refused(client, db, "GET", "/api/events?lastEventId=%C2%B2", headers=caller.headers)
    assert answer["details"] == [{"field": "lastEventId", "message": "expected a whole number"}]


# The last two are asyncpg's -infinity and infinity: stored, they would come back as other values.
OUT_OF_RANGE = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01", "9999-12-31T23:59:59.999999Z"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", "/api/campaigns", "startDate"),
        ("POST", "/api/campaigns", "endDate"),
        ("PUT", f"/api/campaigns/{CAMPAIGN_ID}", "startDate"),
    ],
)
async def test_campaign_dates_outside_years_1_to_9999_in_utc_are_refused(
    client, db, caller, method, path, field, moment
):
    answer = await refused(client, db, method, path, headers=caller.headers, json={"name": "x", field: moment})
    assert answer["details"] == [{"field": field, "message": "is outside the years 1-9999 in UTC"}]
    assert answer["message"] == f"Invalid {field}: {moment!r} is outside the years 1-9999 in UTC"


async def test_campaign_dates_at_the_edges_of_the_range_are_kept(client, caller):
    response = await client.post(
        "/api/campaigns",
        headers=caller.headers,
        json={"name": "x", "startDate": "0001-01-01T00:00:01Z", "endDate": "9999-12-31T23:59:59+00:00"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["startDate"], body["endDate"]) == ("0001-01-01T00:00:01Z", "9999-12-31T23:59:59Z")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=9999-12-31T23:59:59-14:00", "from"),
        ("to=0001-01-01T00:00:00%2B14:00", "to"),
        ("to=0001-01-02", "to"),
        ("from=2025-13-01", "from"),
    ],
)
@pytest.mark.parametrize("route", ["/api/analytics/overview", "/api/analytics/series"])
async def test_analytics_periods_outside_the_calendar_are_refused(client, db, caller, route, query, field):
    answer = await refused(client, db, "GET", f"{route}?{query}", headers=caller.headers)
    assert answer["details"][0]["field"] == field


def concrete(path: str) -> str:
    """A route's path with every parameter filled in."""
    for name in ("contact_id", "campaign_id", "key", "recipient_id", "sender_id", "message_id", "room", "path"):
        path = path.replace(f"{{{name}:str}}", "x")
    return path.replace("{user_id:uuid}", str(uuid.uuid4())).replace("{session_id:uuid}", str(uuid.uuid4()))


async def test_options_answers_every_route_with_its_methods_without_credentials(app, client):
    """Without logging in (a preflight never carries credentials), admin routes included, no internals."""
    # Two templates may fill in to one path (.../messages/{recipient_id} and /{message_id}): one of them answers.
    expected: dict[str, list[set[str]]] = {}
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if methods and "OPTIONS" in methods and not route.path.startswith("/schema"):
            expected.setdefault(concrete(route.path), []).append(methods)
    for path, candidates in expected.items():
        response = await client.options(path)
        assert response.status_code == 204, (path, response.text)
        assert set(response.headers["allow"].split(", ")) in candidates, path
        assert response.content == b""
    assert len(expected) > 60


async def test_options_on_campaigns_lists_post(client):
    response = await client.options("/api/campaigns")
    assert (response.status_code, response.headers["allow"]) == (204, "GET, OPTIONS, POST")
    admin = await client.options("/api/admin/users")
    assert (admin.status_code, admin.headers["allow"], admin.content) == (204, "GET, OPTIONS", b"")


async def test_bodies_still_decode_with_brackets_and_escapes_in_strings(client, caller, db):
    """The depth check skips strings: 100 `[` inside a value, escaped quotes and backslashes, are text."""
    notes = "[" * 100 + '\\"' + "\\\\" + "]"
    response = await client.post(
        "/api/contacts",
        headers={**caller.headers, "content-type": "application/json"},
        content=json.dumps({"firstName": "Ada", "notes": notes}),
    )
    assert response.status_code == 201, response.text
    assert await db.fetchval("SELECT notes FROM contacts") == notes

"""One validation shape everywhere: a bad request in every route family answers 400 with
`{"message", "code", "requestId", "details": [{"field", "message"}, ...]}` and nothing else.

Each row names the field the client got wrong, so the test also proves the details point at the right input.
Rows cover the three places a validation error can start: a service's rule (ValidationFailed), the shared
query helpers (limit, cursor), and Litestar refusing a body or parameter before the handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class BadRequest:
    method: str
    path: str
    field: str  # the field `details` must name first
    body: Any = None
    code: str = "validation_error"
    admin: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.field}"


BAD_REQUESTS = [
    # auth: Litestar refuses the body (a number where the e-mail goes), and a service rule (a used reset link)
    BadRequest("POST", "/api/auth/register", "email", {"email": 5, "password": "long enough 1", "fullName": "A"}),
    BadRequest(
        "POST",
        "/api/auth/password/reset",
        "token",
        {"token": "x" * 40, "password": "long enough 1"},
        code="invalid_reset_token",
    ),
    # users and admin
    BadRequest("PUT", "/api/user/profile", "phoneNumber", {"phoneNumber": "not a phone"}),
    BadRequest("POST", "/api/user/credits", "amount", {"amount": 0}),
    BadRequest("GET", "/api/admin/users?limit=0", "limit", admin=True),
    # contacts: a service rule, Litestar's body check, a query parameter, the shared pagination helpers
    BadRequest("POST", "/api/contacts", "phone", {"firstName": "Grace", "phone": "not a phone"}),
    BadRequest("POST", "/api/contacts", "firstName", {"firstName": 5}),
    BadRequest("GET", "/api/contacts/search", "q"),
    BadRequest("GET", "/api/contacts?limit=5000", "limit"),
    BadRequest("GET", "/api/contacts?cursor=@@@", "cursor", code="invalid_cursor"),
    BadRequest("GET", "/api/contacts?status=sleeping", "status"),
    BadRequest("POST", "/api/contacts/bulk?partial=maybe", "partial", []),
    # campaigns
    BadRequest("POST", "/api/campaigns", "startDate", {"name": "Spring", "startDate": "next week"}),
    BadRequest("POST", "/api/campaigns", "name", {"name": "   "}),
    # calls
    BadRequest("POST", "/api/calls", "status", {"contactId": "x", "status": "Exploded"}),
    BadRequest("GET", "/api/calls?cursor=@@@", "cursor", code="invalid_cursor"),
    # chat
    BadRequest("POST", "/api/chat/rooms", "name", {"kind": "group", "participantIds": []}),
    BadRequest("GET", "/api/chat/messages?limit=x", "limit"),
    # AI: refused before anything is reserved or sent
    BadRequest("POST", "/api/openai/chat", "messages", {"messages": [{"role": "assistant", "content": "hi"}]}),
    BadRequest("POST", "/api/openai/transcribe", "audio"),
    # analytics and the event stream
    BadRequest("GET", "/api/analytics/overview?tz=Mars/Olympus", "tz"),
    BadRequest("GET", "/api/events?lastEventId=yesterday", "lastEventId"),
]


@pytest.fixture
async def caller(make_user):
    return await make_user()


@pytest.mark.parametrize("bad", BAD_REQUESTS, ids=str)
async def test_every_route_family_answers_the_same_validation_shape(client, make_user, caller, bad):
    user = await make_user("admin") if bad.admin else caller
    response = await client.request(
        bad.method, bad.path, json=bad.body, headers={**user.headers, "X-Request-ID": "shape-1"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"message", "code", "requestId", "details"}
    assert body["code"] == bad.code
    assert body["requestId"] == "shape-1"
    assert isinstance(body["message"], str) and body["message"]
    assert body["details"], "a validation error names at least one field"
    for detail in body["details"]:
        assert set(detail) == {"field", "message"}
        assert isinstance(detail["field"], str) and isinstance(detail["message"], str) and detail["message"]
    assert body["details"][0]["field"] == bad.field


async def test_a_bad_request_writes_nothing(client, caller, db):
    await client.post("/api/contacts", json={"firstName": "Grace", "phone": "not a phone"}, headers=caller.headers)
    await client.post("/api/campaigns", json={"name": "   "}, headers=caller.headers)
    assert await db.fetchval("SELECT count(*) FROM contacts") == 0
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0

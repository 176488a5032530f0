"""The OpenAPI document tells the truth: schemathesis drives every operation of the app's own document.

A bounded, derandomized run (PROPERTY_EXAMPLES cases per operation, 25 by default, one for the event stream,
which holds its connection; set it higher for a deep run) that fails on any 5xx, any answer whose status,
content type, headers or body the document does not declare, and any schema-invalid request the service
accepts. It runs in-process over ASGI, as a registered user, so authenticated operations get past the login.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance, use_after_free

from service.app import create_app
from service.config import Settings
from tests.conftest import TEST_JWT_SECRET, create_database, drop_database, with_database
from tests.fakes.openai import API_KEY as OPENAI_KEY
from tests.fakes.openai import OpenAIFake
from tests.fakes.ports import free_port

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "25"))
PASSWORD = "correct-horse-battery-9"
# Operations that end the caller's session: each case gets a session of its own, so the run's stays valid.
# An event stream never ends by itself and its heartbeats are comments, not events, so schemathesis reads it until
# the request timeout: a few heartbeats' worth (STREAM_SECONDS) is enough to check the answer, and one case.
STREAMS = {("GET", "/api/events")}
STREAM_SECONDS = 3
SESSION_ENDING = {("POST", "/api/auth/logout"), ("POST", "/api/auth/logout-all")}
# With ?partial=true a bulk create keeps the valid items and reports each invalid one in `rejected` (a 201),
# by design: an invalid item is not a rejected request there. Without it, one bad item is a 400, as checked.
REPORTS_BAD_ITEMS = {("POST", "/api/contacts/bulk")}
# Checks that cannot hold here by design:
# - positive_data_acceptance expects a 2xx for every schema-valid request, but the rules a schema cannot say
#   refuse most generated ones: a random UUID is nobody's contact (404), a random string is not a phone number or
#   a cursor (400), a random campaign cannot start without a script (409), AI and Twilio are not configured (503).
# - use_after_free reads a 404 after a DELETE as "deleted", then flags any later non-404 at that path; our
#   DELETEs of unknown ids answer 404 and the same path can be created again by another case's POST.
EXCLUDED_CHECKS = [positive_data_acceptance, use_after_free]


def register(schema, email: str) -> str:
    """A new account, logged in in bearer mode; its access token."""
    case = schema["/api/auth/register"]["POST"].Case(
        body={"email": email, "password": PASSWORD, "fullName": "Property Run"},
        headers={"X-Auth-Mode": "bearer", "Content-Type": "application/json"},
    )
    response = case.call()
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def api_schema(server_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    openai = OpenAIFake().start()
    name = asyncio.run(create_database(server_url, "ri_property", template_database))
    settings_ = Settings(
        env="test",
        database_url=with_database(server_url, name),
        data_dir=Path(tmp_path_factory.mktemp("property")),
        jwt_secret=TEST_JWT_SECRET,
        public_base_url="http://testserver",
        log_level="ERROR",
        argon2_memory_kib=8,
        argon2_time_cost=1,
        # Configured, so calls, SMS and AI get past "not configured" (a 503, a 5xx): AI answers from the loopback
        # OpenAI; Twilio is a closed port (dials need a contact of the caller's, which random ids are not), and
        # the webhooks check signatures (403).
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="property-run-token",
        twilio_phone_number="+14155550100",
        twilio_api_base_url=f"http://127.0.0.1:{free_port()}",
        openai_api_key=OPENAI_KEY,
        openai_base_url=openai.base_url,
        openai_max_retries=0,
        openai_timeout_seconds=5,
        events_heartbeat_seconds=1,  # heartbeats within a stream's STREAM_SECONDS
    ).finalized()
    try:
        schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(settings_))
        # An event stream never ends by itself: its first frame is enough to check the answer.
        schema.config.max_stream_events = 1
        # An invalid body larger than the operation accepts is refused before it is read: 413 is a rejection too.
        rejection = schema.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        yield schema
    finally:
        asgi.shutdown_lifespans()  # the app's pool closes before its database goes
        asyncio.run(drop_database(server_url, name))
        openai.stop()


@pytest.fixture(scope="module")
def token(api_schema) -> str:
    return register(api_schema, "property-run@example.com")


def documented_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, read from a document built without a database (nothing is served)."""
    app = create_app(
        Settings(env="test", database_url="postgresql://unused@127.0.0.1/unused", jwt_secret=TEST_JWT_SECRET)
    )
    document = app.openapi_schema.to_schema()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


@pytest.mark.parametrize(("method", "path"), documented_operations())
def test_every_answer_is_documented(api_schema, token: str, method: str, path: str) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(
        max_examples=1 if (method, path) in STREAMS else EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case) -> None:
        bearer = token
        if (method, path) in SESSION_ENDING:
            bearer = register(api_schema, f"property-{uuid.uuid4().hex[:12]}@example.com")
        excluded = EXCLUDED_CHECKS
        if (method, path) in REPORTS_BAD_ITEMS and str((case.query or {}).get("partial")).lower() == "true":
            excluded = [*excluded, negative_data_rejection]
        timeout = {"timeout": STREAM_SECONDS} if (method, path) in STREAMS else {}
        case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, excluded_checks=excluded, **timeout)

    answers_as_documented()

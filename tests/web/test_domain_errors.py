"""Domain errors raised by a service become the one error shape, with the status web/errors.py gives them."""

from __future__ import annotations

import pytest
from litestar import get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from service import errors

CASES = {
    "not-found": (errors.NotFound("Contact"), 404, "not_found", "Contact not found"),
    "conflict": (errors.Conflict("Already running", code="campaign_active"), 409, "campaign_active", "Already running"),
    "forbidden": (errors.Forbidden("Administrators only"), 403, "forbidden", "Administrators only"),
    "credits": (
        errors.InsufficientCredits(5, 2),
        402,
        "insufficient_credits",
        "Not enough credits: 5 needed, 2 available",
    ),
    "upstream": (
        errors.UpstreamFailed("twilio", "Twilio refused the call"),
        502,
        "upstream_error",
        "Twilio refused the call",
    ),
    "unavailable": (
        errors.ServiceUnavailable("Calling is not configured"),
        503,
        "unavailable",
        "Calling is not configured",
    ),
    "too-large": (errors.TooLarge("The file is over 5 MB"), 413, "payload_too_large", "The file is over 5 MB"),
    "limited": (errors.RateLimited(7), 429, "rate_limited", "Too many requests; try again later"),
}


@get("/probe/domain/{case:str}", exclude_from_auth=True)
async def raise_domain_error(case: FromPath[str]) -> None:
    if case == "validation":
        raise errors.ValidationFailed("Invalid phoneNumber", [errors.FieldError("phoneNumber", "not a phone number")])
    raise CASES[case][0]


@pytest.fixture
async def probe_client(app):
    app.register(raise_domain_error)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


@pytest.mark.parametrize("case", sorted(CASES))
async def test_each_domain_error_has_its_status_code_and_message(probe_client, case):
    _, status, code, message = CASES[case]
    response = await probe_client.get(f"/probe/domain/{case}", headers={"X-Request-ID": "req-1"})
    assert response.status_code == status
    details = {"details": {"retryAfterSeconds": 7}} if status == 429 else {}
    assert response.json() == {"message": message, "code": code, "requestId": "req-1", **details}


async def test_validation_failures_carry_field_details(probe_client):
    response = await probe_client.get("/probe/domain/validation")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["details"] == [{"field": "phoneNumber", "message": "not a phone number"}]


async def test_retry_after_is_sent_for_rate_limits(probe_client):
    response = await probe_client.get("/probe/domain/limited")
    assert response.headers["retry-after"] == "7"

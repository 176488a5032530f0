"""Error shape, request ids, security headers, CORS, body limits, OpenAPI: the HTTP basics every route shares."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from litestar import post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.web.schemas import CamelStruct


class Probe(CamelStruct):
    full_name: str
    age: int


@post("/probe/validate", exclude_from_auth=True)
async def validate_probe(data: JSONBody[Probe]) -> dict[str, str]:
    return {"fullName": data.full_name}


@post("/probe/crash", exclude_from_auth=True)
async def crash() -> None:
    raise RuntimeError("secret internal detail in /srv/app/module.py")


@pytest.fixture
def probed_app(app):
    app.register(validate_probe)
    app.register(crash)
    return app


@pytest.fixture
async def probe_client(probed_app):
    async with AsyncTestClient(app=probed_app, base_url="http://testserver.local") as test_client:
        yield test_client


async def test_health_answers_without_touching_the_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_and_ready_answer_head_probes_without_a_body(client, db):
    health = await client.head("/health")
    ready = await client.head("/ready")
    assert (health.status_code, health.content) == (200, b"")
    assert (ready.status_code, ready.content) == (200, b"")
    await db.execute("UPDATE alembic_version SET version_num = 'older'")
    assert (await client.head("/ready")).status_code == 503


async def test_ready_reports_the_schema_head(client, app):
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("twilio").startswith("not configured: set TWILIO_ACCOUNT_SID")  # reported, not failed
    assert body == {"status": "ready", "database": "ok", "schemaRevision": app.state.schema_head}


async def test_ready_is_503_when_the_schema_is_behind(client, db):
    await db.execute("UPDATE alembic_version SET version_num = 'older'")
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready"
    assert "schema is at older" in response.json()["message"]


async def test_unknown_route_gets_the_error_shape_and_request_id(client):
    response = await client.get("/api/nothing-here", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json() == {"message": "Not Found", "code": "not_found", "requestId": "abc-123"}


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "<script>"])
async def test_insane_request_ids_are_replaced(client, bad):
    response = await client.get("/health", headers={"X-Request-ID": bad})
    generated = response.headers["x-request-id"]
    assert generated != bad
    assert len(generated) == 32 and int(generated, 16) >= 0


async def test_each_request_gets_its_own_generated_id(client):
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert first != second


async def test_validation_errors_name_the_field(probe_client):
    response = await probe_client.post("/probe/validate", json={"fullName": "Ada", "age": "old"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "age" in body["message"]
    assert body["details"][0]["field"] == "age"
    assert body["requestId"] == response.headers["x-request-id"]


async def test_missing_field_is_named(probe_client):
    response = await probe_client.post("/probe/validate", json={"age": 3})
    assert response.status_code == 400
    assert "fullName" in response.json()["message"]


async def test_malformed_json_is_a_400(probe_client):
    response = await probe_client.post(
        "/probe/validate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["message"].startswith("The body is not valid JSON: ")
    assert response.json()["details"][0]["field"] == "body"


async def test_unexpected_errors_are_500_without_any_detail(probe_client, capsys):
    response = await probe_client.post("/probe/crash")
    assert response.status_code == 500
    body = response.json()
    assert body == {"message": "Internal server error", "code": "internal_error", "requestId": body["requestId"]}
    assert "secret internal detail" not in response.text
    # ...but the log has the traceback, tied to the request id.
    logged = capsys.readouterr().out
    assert "secret internal detail" in logged and body["requestId"] in logged


async def test_security_headers_on_every_response(client):
    for path in ("/health", "/nowhere"):
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in headers  # development and test: no HSTS


async def test_hsts_in_production(settings):
    from dataclasses import replace

    production = replace(settings, env="production")
    async with AsyncTestClient(app=create_app(production)) as prod_client:
        response = await prod_client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_request_body_over_the_limit_is_413(settings):
    from dataclasses import replace

    app = create_app(replace(settings, max_request_body_bytes=2048))
    app.register(validate_probe)
    async with AsyncTestClient(app=app) as small_client:
        payload = json.dumps({"fullName": "x" * 5000, "age": 1})
        response = await small_client.post(
            "/probe/validate", content=payload, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_cors_allows_configured_origins_only(settings):
    from dataclasses import replace

    app = create_app(replace(settings, cors_origins=("https://app.reachimpact.test",)))
    async with AsyncTestClient(app=app) as cors_client:
        allowed = await cors_client.options(
            "/api/contacts",
            headers={"Origin": "https://app.reachimpact.test", "Access-Control-Request-Method": "POST"},
        )
        refused = await cors_client.get("/health", headers={"Origin": "https://evil.test"})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.reachimpact.test"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in refused.headers


async def test_openapi_document_and_ui_are_served(client):
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    assert "/health" in spec.json()["paths"]
    assert spec.json()["info"]["version"] == importlib.metadata.version("reachimpact")
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


async def test_each_request_is_logged_with_its_id_status_and_duration(settings, capsys):
    from dataclasses import replace

    app = create_app(replace(settings, log_level="INFO", log_format="json"))
    async with AsyncTestClient(app=app) as json_client:
        capsys.readouterr()
        await json_client.get("/health", headers={"X-Request-ID": "log-me-1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert access == [
        {
            "event": "request",
            "method": "GET",
            "path": "/health",
            "status": 200,
            "duration_ms": access[0]["duration_ms"],
            "user_id": None,
            "request_id": "log-me-1",
            "level": "info",
            "timestamp": access[0]["timestamp"],
        }
    ]


async def test_authenticated_requests_are_logged_with_the_user_id(settings, make_user, capsys):
    from dataclasses import replace

    user = await make_user()
    app = create_app(replace(settings, log_level="INFO", log_format="json"))
    async with AsyncTestClient(app=app) as json_client:
        capsys.readouterr()
        response = await json_client.get("/api/contacts", headers=user.headers)
    assert response.status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert [(line["path"], line["status"], line["user_id"]) for line in access] == [
        ("/api/contacts", 200, str(user.id))
    ]

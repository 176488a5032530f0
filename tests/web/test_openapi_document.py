"""The OpenAPI document declares what the service answers (service/web/openapi.py); the property run in
tests/contract/test_openapi_property.py checks the answers themselves against it."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath

from service.web.openapi import describe_api, documented

METHODS = {"get", "put", "post", "patch", "delete", "head"}


@pytest.fixture
def document(app) -> dict:
    return app.openapi_schema.to_schema()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def test_errors_have_the_shape_the_service_sends(document):
    text = json.dumps(document)
    assert "status_code" not in text and '"extra"' not in text  # Litestar's own error shape is gone
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "code", "requestId"]
    limited = document["components"]["schemas"]["RateLimitedError"]
    assert limited["properties"]["details"]["required"] == ["retryAfterSeconds"]
    for method, _, operation in operations(document):
        for status, response in operation["responses"].items():
            if status >= "400" and method != "HEAD":
                schema = response["content"]["application/json"]["schema"]["$ref"]
                assert schema.endswith("/RateLimitedError" if status == "429" else "/Error"), status
                assert "Retry-After" in response["headers"] or status not in ("429", "503")


def test_statuses_follow_the_rules(document):
    for method, path, operation in operations(document):
        statuses = set(operation["responses"])
        assert "400" in statuses, (method, path)
        authenticated = "security" in operation
        assert not authenticated or {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            assert "413" in statuses, (method, path)
        assert ("503" in statuses) == (path != "/health"), (method, path)
        assert not any(status.startswith("5") and status not in ("502", "503") for status in statuses)
    login = document["paths"]["/api/auth/login"]["post"]
    assert {"401", "403", "429"} <= set(login["responses"]) and "security" not in login
    assert "security" in document["paths"]["/api/contacts"]["get"]
    assert set(document["components"]["securitySchemes"]) == {"bearer", "accessCookie"}


def test_pre_encoded_answers_declare_their_types(document):
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            for media_type, media in (response.get("content") or {}).items():
                assert not (media_type == "application/json" and media["schema"] == {"type": "string"}), (
                    method,
                    path,
                    status,
                )
    contacts = document["paths"]["/api/contacts"]["get"]["responses"]["200"]
    assert contacts["content"]["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/ContactOut"}
    assert {"Link", "X-Next-Cursor"} <= set(contacts["headers"])
    twiml = document["paths"]["/api/calls/status"]["post"]["responses"]["200"]
    assert list(twiml["content"]) == ["text/xml"]


def test_list_routes_declare_the_query_parameters_they_read(document):
    def names(path: str) -> set[str]:
        return {parameter["name"] for parameter in document["paths"][path]["get"].get("parameters", [])}

    assert {"limit", "cursor", "status", "tag", "campaignId", "q"} <= names("/api/contacts")
    assert {"limit", "cursor", "q"} <= names("/api/contacts/search")
    assert {"limit", "cursor", "status"} <= names("/api/campaigns")
    assert {"limit", "cursor", "kind"} <= names("/api/analytics/activity")
    assert {"from", "to", "tz", "interval", "campaignId"} <= names("/api/analytics/series")
    limit = next(p for p in document["paths"]["/api/contacts"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}


def test_bodies_read_raw_are_declared(document):
    def body(path: str) -> set[str]:
        return set(document["paths"][path]["post"]["requestBody"]["content"])

    assert body("/api/contacts/bulk") == {"application/json"}
    assert body("/api/contacts/import") == {"multipart/form-data", "text/csv"}
    assert body("/api/openai/transcribe") == body("/api/transcribe") == {"multipart/form-data"}
    assert body("/api/twilio/sms") == {"application/x-www-form-urlencoded"}


def test_no_content_answers_declare_none(document):
    for method, path, operation in operations(document):
        if "204" in operation["responses"]:
            assert "content" not in operation["responses"]["204"], (method, path)
        if method == "HEAD":
            assert all("content" not in response for response in operation["responses"].values()), path


def test_bodies_have_examples(document):
    create = document["paths"]["/api/contacts"]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]["example"]["value"]["firstName"]
    assert create["responses"]["201"]["content"]["application/json"]["examples"]["example"]["value"]["id"]
    assert document["paths"]["/api/contacts/{contact_id}"]["get"]["responses"]["404"]["content"]["application/json"][
        "examples"
    ]["not_found"]["value"]["code"] == ("not_found")


async def test_the_served_document_is_the_app_document_built_once(app, client):
    assert app.openapi_schema is app.openapi_schema
    served = await client.get("/schema/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(app.openapi_schema.to_schema()))


def test_a_new_route_gets_the_rules_without_a_word():
    """A feature added later (the dialer's routes) declares only what it alone answers."""

    @get("/api/things/{thing_id:str}")
    async def thing(thing_id: FromPath[str]) -> dict[str, str]:
        return {}

    @documented(errors=(409,))
    @post("/api/things/{thing_id:str}/start", exclude_from_auth=True)
    async def start(thing_id: FromPath[str]) -> None:
        return None

    app = Litestar([thing, start], openapi_config=OpenAPIConfig(title="t", version="1"))
    describe_api(app)
    paths = app.openapi_schema.to_schema()["paths"]
    assert set(paths["/api/things/{thing_id}"]["get"]["responses"]) == {"200", "400", "401", "403", "404", "503"}
    assert set(paths["/api/things/{thing_id}/start"]["post"]["responses"]) == {"201", "400", "404", "409", "413", "503"}

"""Liveness and readiness for Fly's checks and for operators."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import HttpMethod, Request, route
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.response import Response

from service.db.pool import DATABASE_TROUBLE
from service.web.errors import error_body
from service.web.openapi import documented

READY_TIMEOUT_SECONDS = 2.0
# Checks and load balancers often probe with HEAD; the server sends the status and headers without the body.
PROBE_METHODS = [HttpMethod.GET, HttpMethod.HEAD]


@route(
    "/health",
    http_method=PROBE_METHODS,
    exclude_from_auth=True,
    tags=["health"],
    summary="Liveness: the process answers",
)
async def health() -> dict[str, str]:
    # Deliberately touches nothing: a database outage must not get healthy machines restarted.
    return {"status": "ok"}


@documented(
    returns=Schema(
        type=OpenAPIType.OBJECT,
        required=["status", "database", "schemaRevision", "twilio"],
        properties={
            name: Schema(type=OpenAPIType.STRING) for name in ("status", "database", "schemaRevision", "twilio")
        },
    ),
    example={"status": "ready", "database": "ok", "schemaRevision": "0008", "twilio": "ok"},
)
@route(
    "/ready",
    http_method=PROBE_METHODS,
    exclude_from_auth=True,
    tags=["health"],
    summary="Readiness: database reachable, schema at head",
)
async def ready(request: Request) -> Response:
    state = request.app.state
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            current = await state.pool.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.UndefinedTableError:
        return _not_ready(request, "database has no schema: run `reachimpact migrate upgrade`")
    except DATABASE_TROUBLE:
        return _not_ready(request, "database is unreachable")
    if current != state.schema_head:
        return _not_ready(
            request, f"schema is at {current}, code expects {state.schema_head}: run `reachimpact migrate upgrade`"
        )
    missing = state.settings.twilio_missing
    # Calls are optional: the service serves everything else without Twilio, so this is reported, not failed.
    twilio = f"not configured: set {', '.join(missing)}" if missing else "ok"
    return Response({"status": "ready", "database": "ok", "schemaRevision": current, "twilio": twilio})


def _not_ready(request: Request, reason: str) -> Response:
    return Response(error_body(request, reason, "not_ready"), status_code=503)

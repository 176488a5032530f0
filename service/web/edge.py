"""The outermost HTTP layer: request id, security headers and one access-log line per request.

It wraps Litestar's whole ASGI handler (not a route's middleware stack), so 404s of unknown paths, CORS
preflights and errors get the same treatment. One raw ASGI layer keeps the per-request cost small.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.web.request_id import SCOPE_KEY, choose_request_id, current_request_id
from service.web.spa import SPA_CSP, is_backend_path

# The interactive API docs load their script from a CDN, so they get a looser policy than the JSON API.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'none'"
)
DOCS_PREFIX = "/schema"


def security_headers(*, hsts: bool, csp: bytes) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, serves_spa: bool = False) -> None:
        self.app = app
        # Bound now, after create_app() configured logging, so each app logs with its own settings.
        self.access_log = structlog.get_logger("access").bind()
        self.log_requests = self.access_log.is_enabled_for(logging.INFO)
        self.api_headers = security_headers(hsts=hsts, csp=API_CSP)
        self.docs_headers = security_headers(hsts=hsts, csp=DOCS_CSP)
        self.serves_spa = serves_spa
        self.spa_headers = security_headers(hsts=hsts, csp=SPA_CSP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = choose_request_id(incoming)
        scope[SCOPE_KEY] = request_id  # type: ignore[literal-required]
        path = scope["path"]
        added = [(b"x-request-id", request_id.encode()), *self._security_headers(path)]
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if self.log_requests:
                self._log(scope, path, status, started)
            current_request_id.reset(token)

    def _security_headers(self, path: str) -> list[tuple[bytes, bytes]]:
        if path.startswith(DOCS_PREFIX):
            return self.docs_headers
        if self.serves_spa and not is_backend_path(path):
            return self.spa_headers
        return self.api_headers

    def _log(self, scope: Scope, path: str, status: int, started: float) -> None:
        user: Any = scope.get("user")
        self.access_log.info(
            "request",
            method=scope["method"],  # type: ignore[typeddict-item]
            path=path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            user_id=str(user.id) if user is not None and hasattr(user, "id") else None,
        )

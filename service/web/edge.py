"""The outermost layer: request id, security headers and one access-log line per request.

It wraps Litestar's whole ASGI handler (not a route's middleware stack), so 404s of unknown paths, CORS
preflights and errors get the same treatment. One raw ASGI layer keeps the per-request cost small.

Streams are requests too. An SSE response is an HTTP request whose line is written when the stream ends, so its
duration is the stream's. A WebSocket gets a request id (on every line logged while it is open) and one line
when it closes: status 101 if it was accepted (403 if refused), its duration and its close code.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, ReceiveMessage, Scope, Send

from service.logging import AccessLine, access_log_writer, current_request_id
from service.web.decoding import NUL_MESSAGE, nul_refused, query_nul_field
from service.web.request_id import SCOPE_KEY, choose_request_id
from service.web.spa import SPA_CSP, is_backend_path

# The interactive API docs load their script from a CDN, so they get a looser policy than the JSON API.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https:; frame-ancestors 'none'"
)
DOCS_PREFIX = "/schema"
_encode_error = msgspec.json.Encoder().encode


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


def nul_field(scope: Scope) -> str | None:
    """A query parameter or the path holding NUL: refused here once, for every route (see decoding.py)."""
    if "\x00" in scope["path"]:
        return "path"
    return query_nul_field(scope["query_string"])


async def refuse_nul(send: Send, request_id: str, field: str) -> None:
    error = nul_refused(field)
    body = _encode_error(
        {
            "message": error.message,
            "code": error.code,
            "requestId": request_id,
            "details": [{"field": field, "message": NUL_MESSAGE}],
        }
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, serves_spa: bool = False) -> None:
        self.app = app
        # Chosen now, after create_app() configured logging, so each app logs with its own settings.
        self.write_access_line = access_log_writer()
        self.api_headers = security_headers(hsts=hsts, csp=API_CSP)
        self.docs_headers = security_headers(hsts=hsts, csp=DOCS_CSP)
        self.serves_spa = serves_spa
        self.spa_headers = security_headers(hsts=hsts, csp=SPA_CSP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        request_id = self._request_id(scope)
        path, method = scope["path"], scope["method"]  # type: ignore[typeddict-item]
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
            if (field := nul_field(scope)) is not None:
                await refuse_nul(send_with_headers, request_id, field)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            if self.write_access_line is not None:
                self.write_access_line(self._line(scope, method, path, status, started, request_id))
            current_request_id.reset(token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self._request_id(scope)
        status, close_code = 403, None  # an ASGI server answers a socket closed before accept with 403
        started = time.perf_counter()

        async def send_tracked(message: Message) -> None:
            nonlocal status, close_code
            # No X-Request-ID on the handshake's answer: granian sends only the subprotocol of websocket.accept.
            if message["type"] == "websocket.accept":
                status = 101
            elif message["type"] == "websocket.close" and close_code is None:
                close_code = message.get("code", 1000)
            await send(message)

        async def receive_tracked() -> ReceiveMessage:
            nonlocal close_code
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code = message.get("code", 1005)
            return message

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive_tracked, send_tracked)
        finally:
            if self.write_access_line is not None:
                line = self._line(scope, "GET", scope["path"], status, started, request_id)
                line.stream, line.close_code = "websocket", close_code
                self.write_access_line(line)
            current_request_id.reset(token)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        incoming = next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        request_id = choose_request_id(incoming)
        scope[SCOPE_KEY] = request_id  # type: ignore[literal-required]
        return request_id

    def _security_headers(self, path: str) -> list[tuple[bytes, bytes]]:
        if path.startswith(DOCS_PREFIX):
            return self.docs_headers
        if self.serves_spa and not is_backend_path(path):
            return self.spa_headers
        return self.api_headers

    @staticmethod
    def _line(scope: Scope, method: str, path: str, status: int, started: float, request_id: str) -> AccessLine:
        user: Any = scope.get("user")
        return AccessLine(
            "request",
            method,
            path,
            status,
            round((time.perf_counter() - started) * 1000, 2),
            str(user.id) if user is not None and hasattr(user, "id") else None,
            request_id,
            "info",
            datetime.now(UTC),
        )

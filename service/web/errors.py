"""One error shape everywhere: {"message", "code", "requestId", "details"?}.

Services raise the domain errors of `service/errors.py`; this module alone decides their HTTP status. Validation
`details` are always `[{"field", "message"}]`, whether a service raised ValidationFailed or Litestar refused the
body or a parameter. Anything else becomes a logged 500 whose body says nothing about the code. The SPA reads
`message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from service import errors
from service.web.request_id import request_id_of

CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with a code, for the one module that still raises one (service/auth/throttle.py's 429).

    New code raises the domain errors of service/errors.py instead.
    """

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, status_code=status_code or self.status_code, headers=headers)
        self.code = code or self.code
        self.details = details


class TooManyRequests(ApiError):
    status_code = 429
    code = "rate_limited"


def error_body(request: Request, message: str, code: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code, "requestId": request_id_of(request.scope)}
    if details is not None:
        body["details"] = details
    return body


def field_details(problems: Sequence[errors.FieldError]) -> list[dict[str, str]]:
    """The one `details` shape: what a client needs to put the message next to the right input."""
    return [{"field": problem.field, "message": problem.message} for problem in problems]


def _litestar_problems(exc: ValidationException) -> list[errors.FieldError]:
    """Litestar's msgspec errors (body, query, path, header), as the FieldErrors a service would raise."""
    return [
        errors.FieldError(str(item.get("key") or "body"), str(item.get("message") or "invalid"))
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]


def _validation_message(problems: list[errors.FieldError], fallback: str) -> str:
    if problems:
        return f"Invalid {problems[0].field}: {problems[0].message}"
    return fallback or "Invalid request"


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ApiError):
        body = error_body(request, exc.detail, exc.code, exc.details)
    elif isinstance(exc, ValidationException):
        problems = _litestar_problems(exc)
        details = field_details(problems) or None
        body = error_body(request, _validation_message(problems, exc.detail), "validation_error", details)
    elif status >= 500:
        # Litestar's own server errors (a misconfiguration) speak of internals: log them, say nothing.
        return internal_error_handler(request, exc)
    else:
        # Litestar's own errors (404 route, 405, 413 ...): keep the status, give it a code.
        body = error_body(request, exc.detail, CODES_BY_STATUS.get(status, "error"))
    return Response(body, status_code=status, headers=exc.headers, media_type=MediaType.JSON)


# Most specific first: the first class an error is an instance of gives its status.
DOMAIN_STATUS: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.ValidationFailed, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.InsufficientCredits, 402),
    (errors.UpstreamFailed, 502),
    (errors.ServiceUnavailable, 503),
    (errors.TooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.RateLimited, 429),
)


def domain_status(exc: errors.DomainError) -> int:
    return next((status for kind, status in DOMAIN_STATUS if isinstance(exc, kind)), 400)


def domain_error_handler(request: Request, exc: errors.DomainError) -> Response:
    details = None
    if isinstance(exc, errors.ValidationFailed | errors.NotFound) and exc.details:
        details = field_details(exc.details)
    elif isinstance(exc, errors.RateLimited):
        details = {"retryAfterSeconds": exc.retry_after}  # as the login throttle's 429 says it
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, errors.UpstreamFailed):
        structlog.get_logger().warning("upstream failed", service=exc.service, error=exc.message)
    body = error_body(request, exc.message, exc.code, details)
    return Response(body, status_code=domain_status(exc), headers=headers, media_type=MediaType.JSON)


# A query that loses its connection: the server stopped, crashed or restarts. The pool turns failures to connect
# or to get a connection into errors.DatabaseUnavailable itself (service/db/pool.py).
CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,  # also ConnectionDoesNotExistError: "closed in the middle of operation"
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    # A query sent while the connection is being torn down by the server ("cannot switch to state 12; another
    # operation is in progress"): seen in the outage test under load, never outside one.
    asyncpg.InternalClientError,
)


def connection_lost_handler(request: Request, exc: Exception) -> Response:
    # One short line, no traceback: an outage fails every request, and logging must stay cheaper than serving.
    structlog.get_logger().warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    return domain_error_handler(request, errors.DatabaseUnavailable())


def internal_error_handler(request: Request, exc: Exception) -> Response:
    structlog.get_logger().exception("unhandled error", path=request.url.path, method=request.method)
    body = error_body(request, "Internal server error", "internal_error")
    return Response(body, status_code=HTTP_500_INTERNAL_SERVER_ERROR, media_type=MediaType.JSON)


EXCEPTION_HANDLERS = {
    HTTPException: http_exception_handler,
    errors.DomainError: domain_error_handler,
    **dict.fromkeys(CONNECTION_LOST, connection_lost_handler),
    Exception: internal_error_handler,
}

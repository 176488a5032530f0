"""The OpenAPI document, made to say what the service does.

Litestar derives the document from handler signatures, which leaves out what the code decides itself: the error
answers of `service/web/errors.py` (Litestar would declare its own `{status_code, detail, extra}`), the real types
of pre-encoded (bytes) answers, the query parameters a handler reads from `request.query_params`, and the bodies
it reads raw (bulk, CSV import, audio, Twilio's forms). `describe_api(app)`, called once by `create_app`, adds
them to every operation when the document is first built, so a new route gets the rules below without a word:

- 400 on every operation (the edge refuses NUL, bad JSON and bad parameters for every route);
- 401 and 403 on authenticated operations, which also name their security schemes;
- 404 where the path holds an id; 413 on writes;
- 503 `database_unavailable` with `Retry-After` everywhere except `/health`, which touches no database.

What only one feature can answer (402, 409, 415, 429, 502, a 404 from a query id, ...) and what a handler reads
itself is declared next to the handler with `@documented(...)`. The document is built once, on first use, and
served from memory: requests never pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from litestar import Litestar
from litestar._openapi.datastructures import OpenAPIContext
from litestar._openapi.plugin import OpenAPIPlugin
from litestar._openapi.schema_generation import SchemaCreator
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from service.web.pagination import DEFAULT_LIMIT, MAX_LIMIT

JSON = "application/json"
OPT_KEY = "openapi"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Wherever a database is used: every operation but the liveness probe.
NO_DATABASE_PATHS = frozenset({"/health"})
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"accessCookie": []}]
REQUEST_ID_HEADER = Reference(ref="#/components/headers/RequestId")
RETRY_AFTER_HEADER = Reference(ref="#/components/headers/RetryAfter")
EXAMPLE_REQUEST_ID = "5f0c6a3e9b2d4c1e8a7f6b5c4d3e2f1a"

# The answer and its example code for each status the service sends; `retry` adds the Retry-After header.
ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("The request is malformed or breaks a rule; `details` names each field", "validation_error",
          "Invalid phoneNumber: not a complete phone number"),
    401: ("Not logged in, or the credentials are wrong or ended", "authentication_required",
          "Authentication required"),
    402: ("Not enough credits for this operation", "insufficient_credits", "Not enough credits: 5 needed, 2 available"),
    403: ("Logged in but not allowed (role, CSRF, owner, signature)", "forbidden", "Administrator role required"),
    404: ("Nothing of the caller's has this id (someone else's answers the same)", "not_found", "Contact not found"),
    409: ("The resource's state does not allow this", "conflict", "The campaign is already active"),
    413: ("The body is larger than this operation accepts", "payload_too_large", "Request Entity Too Large"),
    415: ("The body's content type is not one this operation reads", "unsupported_media_type",
          "Send a CSV file as multipart/form-data or text/csv"),
    429: ("Too many requests; retry after `Retry-After` seconds", "rate_limited", "Too many attempts; try again later"),
    502: ("An external service (Twilio, OpenAI) failed", "upstream_error", "The AI service could not be reached"),
    503: ("Unavailable right now: the database is unreachable (`Retry-After`), or a feature is not configured",
          "database_unavailable", "The service cannot reach its database right now; try again in a few seconds"),
}  # fmt: skip
RETRY_AFTER_STATUSES = frozenset({429, 503})

Handler = TypeVar("Handler", bound=HTTPRouteHandler)


def query(name: str, schema: Schema, description: str, *, required: bool = False) -> Parameter:
    return Parameter(name=name, param_in="query", schema=schema, description=description, required=required)


def text(max_length: int | None = None, **extra: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, max_length=max_length, **extra)


def choice(values: Sequence[str]) -> Schema:
    return Schema(type=OpenAPIType.STRING, enum=list(values))


UUID = Schema(type=OpenAPIType.STRING, format="uuid")  # type: ignore[arg-type]
# A filter read with `if raw:`: empty means the same as absent.
UUID_OR_EMPTY = Schema(one_of=[UUID, Schema(type=OpenAPIType.STRING, max_length=0)])
BOOLEAN = Schema(type=OpenAPIType.BOOLEAN)
PAGE_QUERY = (
    query(
        "limit",
        Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT),
        f"rows per page (ASCII digits, 1..{MAX_LIMIT})",
    ),
    query("cursor", text(), "the `X-Next-Cursor` of the previous page; opaque"),
)
PAGE_HEADERS = {
    "Link": OpenAPIHeader(schema=text(), description='`<next page URL>; rel="next"` when another page follows'),
    "X-Next-Cursor": OpenAPIHeader(schema=text(), description="the cursor of the next page, when one follows"),
}


@dataclass(frozen=True, slots=True)
class Body:
    """A request body the handler reads itself: media type -> a Python type or a ready schema."""

    content: Mapping[str, Any]
    required: bool = True
    example: Any = None
    description: str | None = None


def csv_upload_body(limit: str) -> Body:
    """What service/web/uploads.py's `csv_upload` reads: a multipart file field, or the raw body as text/csv."""
    return Body(
        {
            "multipart/form-data": Schema(
                type=OpenAPIType.OBJECT, properties={"file": text(format="binary")}, required=["file"]
            ),
            "text/csv": text(),
        },
        description=f"the CSV file in a multipart field of any name, or the raw body as text/csv; {limit}",
    )


@dataclass(frozen=True, slots=True)
class Documented:
    returns: Any = None  # the success answer's real type (or Schema), for pre-encoded or untyped answers
    media_type: str = JSON
    query: Sequence[Parameter] = ()
    paged: bool = False  # `limit` and `cursor`, and the next-page headers on the answer
    body: Body | None = None
    errors: Sequence[int] = ()  # statuses only this operation answers, beyond the rules of the module docstring
    example: Any = None  # of the success answer
    request_example: Any = None  # of a body Litestar typed from `data`
    extra_statuses: Mapping[int, str] = field(default_factory=dict)  # more success statuses: description


def documented(**what: Any) -> Callable[[Handler], Handler]:
    """Applied above a route decorator: `@documented(returns=list[ContactOut], paged=True)` then `@get(...)`."""
    described = Documented(**what)

    def apply(handler: Handler) -> Handler:
        handler.opt[OPT_KEY] = described
        return handler

    return apply


class _DescribedOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's plugin, with the rules of this module applied once it built the document.

    Litestar 2 has no hook after the build; this subclass adds no state, so the app's instance can take it on.
    """

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        openapi = super()._build_openapi()
        _Describer(openapi, OpenAPIContext(openapi_config=self.openapi_config, plugins=self.app.plugins.openapi))(
            self.app
        )
        return openapi


def describe_api(app: Litestar) -> None:
    """Make the app's document (built on first use) declare what the service answers; see the module docstring."""
    app.plugins.get(OpenAPIPlugin).__class__ = _DescribedOpenAPIPlugin


@dataclass
class _Describer:
    openapi: OpenAPI
    context: OpenAPIContext

    def __call__(self, app: Litestar) -> None:
        components = self.openapi.components
        assert isinstance(components, Components)
        for route in app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            path_item = (self.openapi.paths or {}).get(route.path_format or "/")
            for method, (handler, _) in route.route_handler_map.items():
                operation = getattr(path_item, method.lower(), None) if path_item else None
                if isinstance(operation, Operation):
                    self.operation(route, method, handler, operation)
        schemas = components.schemas
        for name, schema in self.context.schema_registry.generate_components_schemas().items():
            if name in schemas and schemas[name] != schema:
                raise RuntimeError(f"Two OpenAPI schemas are named {name}: rename one of the types")
            schemas[name] = schema
        schemas.update(ERROR_SCHEMAS)
        components.headers = {**(components.headers or {}), **HEADERS}
        components.security_schemes = {**(components.security_schemes or {}), **SECURITY_SCHEMES}

    def operation(self, route: HTTPRoute, method: str, handler: HTTPRouteHandler, operation: Operation) -> None:
        described: Documented = handler.opt.get(OPT_KEY) or Documented()
        authenticated = not handler.opt.get("exclude_from_auth")
        responses = operation.responses = dict(operation.responses or {})
        success = str(handler.status_code)
        if described.returns is not None:
            litestars = responses.get(success)
            responses[success] = OpenAPIResponse(
                description=litestars.description if isinstance(litestars, OpenAPIResponse) else "OK",
                content={described.media_type: self.media(described.returns, described.example)},
            )
        elif described.example is not None:
            self.add_example(responses.get(success), described.example)
        if handler.status_code == 204 and isinstance(responses.get(success), OpenAPIResponse):
            responses[success].content = None  # type: ignore[union-attr]  # Litestar says JSON `null`
        for status, description in described.extra_statuses.items():
            base = responses[success]
            assert isinstance(base, OpenAPIResponse)
            responses[str(status)] = OpenAPIResponse(description=description, content=base.content)
        if described.paged:
            response = responses[success]
            assert isinstance(response, OpenAPIResponse)
            response.headers = {**(response.headers or {}), **PAGE_HEADERS}

        parameters = [*(operation.parameters or []), *(PAGE_QUERY if described.paged else ()), *described.query]
        operation.parameters = parameters or None  # type: ignore[assignment]
        if described.body is not None:
            body = described.body
            operation.request_body = RequestBody(
                content={
                    media_type: self.media(kind, body.example if index == 0 else None)
                    for index, (media_type, kind) in enumerate(body.content.items())
                },
                required=body.required,
                description=body.description,
            )
        elif described.request_example is not None and isinstance(operation.request_body, RequestBody):
            for media in operation.request_body.content.values():
                media.examples = {"example": Example(value=described.request_example)}

        statuses = {400, *described.errors}
        if authenticated:
            statuses |= {401, 403}
            operation.security = SECURITY  # type: ignore[assignment]
        if route.path_parameters:
            statuses.add(404)
        if method in WRITES:
            statuses.add(413)
        if route.path_format not in NO_DATABASE_PATHS:
            statuses.add(503)
        for status in sorted(statuses):
            responses[str(status)] = error_response(status)
        for response in responses.values():
            if isinstance(response, OpenAPIResponse):
                response.headers = {**(response.headers or {}), "X-Request-ID": REQUEST_ID_HEADER}
                if method == "HEAD":  # the status and headers of the GET, without a body
                    response.content = None
        operation.responses = dict(sorted(responses.items()))

    def media(self, kind: Any, example: Any) -> OpenAPIMediaType:
        if isinstance(kind, Schema | Reference):
            schema: Schema | Reference = kind
        else:
            schema = SchemaCreator.from_openapi_context(self.context, prefer_alias=False).for_field_definition(
                FieldDefinition.from_annotation(kind)
            )
        examples: dict[str, Example | Reference] | None = (
            {"example": Example(value=example)} if example is not None else None
        )
        return OpenAPIMediaType(schema=schema, examples=examples)

    @staticmethod
    def add_example(response: Any, example: Any) -> None:
        if isinstance(response, OpenAPIResponse):
            for media in (response.content or {}).values():
                media.examples = {"example": Example(value=example)}


def error_response(status: int) -> OpenAPIResponse:
    description, code, message = ERRORS[status]
    example: dict[str, Any] = {"message": message, "code": code, "requestId": EXAMPLE_REQUEST_ID}
    if status == 400:
        example["details"] = [{"field": "phoneNumber", "message": "not a complete phone number"}]
    elif status == 429:
        example["details"] = {"retryAfterSeconds": 30}
    schema = Reference(ref="#/components/schemas/RateLimitedError" if status == 429 else "#/components/schemas/Error")
    headers: dict[str, OpenAPIHeader | Reference] = {"X-Request-ID": REQUEST_ID_HEADER}
    if status in RETRY_AFTER_STATUSES:
        headers["Retry-After"] = RETRY_AFTER_HEADER
    return OpenAPIResponse(
        description=f"{HTTPStatus(status).phrase}: {description}",
        content={JSON: OpenAPIMediaType(schema=schema, examples={code: Example(value=example)})},
        headers=headers,
    )


_ERROR_FIELDS = {
    "message": Schema(type=OpenAPIType.STRING, description="for the person using the product; safe to show"),
    "code": Schema(type=OpenAPIType.STRING, description="stable, for programs: `validation_error`, `not_found`, ..."),
    "requestId": Schema(type=OpenAPIType.STRING, description="the X-Request-ID of the request, for the logs"),
}
FIELD_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    required=["field", "message"],
    properties={"field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING)},
)
ERROR_SCHEMAS = {
    "Error": Schema(
        type=OpenAPIType.OBJECT,
        required=list(_ERROR_FIELDS),
        properties={
            **_ERROR_FIELDS,
            "details": Schema(
                type=OpenAPIType.ARRAY,
                items=Reference(ref="#/components/schemas/FieldError"),
                description="validation errors and unknown ids: each field and its problem",
            ),
        },
        description="The one error shape (service/web/errors.py)",
    ),
    "FieldError": FIELD_ERROR,
    "RateLimitedError": Schema(
        type=OpenAPIType.OBJECT,
        required=[*_ERROR_FIELDS, "details"],
        properties={
            **_ERROR_FIELDS,
            "details": Schema(
                type=OpenAPIType.OBJECT,
                required=["retryAfterSeconds"],
                properties={"retryAfterSeconds": Schema(type=OpenAPIType.INTEGER, minimum=0)},
            ),
        },
        description="A 429: the error shape with the wait in `details` (also in `Retry-After`)",
    ),
}
HEADERS: dict[str, OpenAPIHeader | Reference] = {
    "RequestId": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, max_length=128),
        description="the request's id: the client's sane X-Request-ID, else a new one",
    ),
    "RetryAfter": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$"), description="seconds to wait before retrying"
    ),
}
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT", description="the login's `token`"),
    "accessCookie": SecurityScheme(
        type="apiKey",
        name="ri_access",
        security_scheme_in="cookie",
        description="the browser session's cookie; writes also need a trusted Origin or X-CSRF-Token",
    ),
}

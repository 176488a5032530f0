"""Domain errors: what services raise when a request cannot be served. Nothing here knows about HTTP.

`service/web/errors.py` alone turns them into responses (status, code, the one error shape). Messages are
written for the person using the product: they are shown as they are, so they never carry secrets or internals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field; `field` uses the wire name (camelCase, e.g. "phoneNumber")."""

    field: str
    message: str


class DomainError(Exception):
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class NotFound(DomainError):
    """Also what another user's row is: its existence is not revealed."""

    code = "not_found"

    def __init__(self, what: str, details: list[FieldError] | None = None) -> None:
        super().__init__(f"{what} not found")
        self.details = details or []


class Conflict(DomainError):
    code = "conflict"


class ValidationFailed(DomainError):
    """The request's input breaks a rule; `details` name each field and its problem (the one shape clients read)."""

    code = "validation_error"

    def __init__(self, message: str, details: list[FieldError] | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.details = details or []

    @classmethod
    def field(
        cls, field: str, problem: str, *, message: str | None = None, code: str | None = None
    ) -> ValidationFailed:
        """One field's problem; the message defaults to "Invalid <field>: <problem>"."""
        return cls(message or f"Invalid {field}: {problem}", [FieldError(field, problem)], code=code)


class Unauthenticated(DomainError):
    """The caller is not logged in (any more), or the credentials they sent are wrong."""

    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class InsufficientCredits(DomainError):
    code = "insufficient_credits"

    def __init__(self, needed: int, balance: int) -> None:
        super().__init__(f"Not enough credits: {needed} needed, {balance} available")
        self.needed = needed
        self.balance = balance


class UpstreamFailed(DomainError):
    """An external service (Twilio, OpenAI, SMTP) failed; `message` is safe to show."""

    code = "upstream_error"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


class ServiceUnavailable(DomainError):
    """Something this request needs is not there right now (e.g. Twilio is not configured)."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (down, restarting, or every connection busy past the acquire timeout)."""

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__(
            "The service cannot reach its database right now; try again in a few seconds",
            retry_after,
            code="database_unavailable",
        )


class TooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """The body came in a format the operation cannot read (e.g. a CSV import sent as JSON)."""

    code = "unsupported_media_type"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, retry_after: int, message: str = "Too many requests; try again later") -> None:
        super().__init__(message)
        self.retry_after = retry_after

"""Domain errors (no HTTP here): what services raise; service/web/errors.py turns them into responses.

This is the subset the calls feature needs, written to the platform's agreed interface; the platform's own
module replaces it when the branches meet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Conflict(DomainError):
    code = "conflict"


class ValidationFailed(DomainError):
    code = "validation_error"

    def __init__(self, message: str, details: list[FieldError] | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.details = details or []


class Forbidden(DomainError):
    code = "forbidden"


class InsufficientCredits(DomainError):
    code = "insufficient_credits"

    def __init__(self, needed: int, balance: int) -> None:
        super().__init__(f"Not enough credits: {needed} needed, {balance} available")
        self.needed = needed
        self.balance = balance


class UpstreamFailed(DomainError):
    code = "upstream_error"

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service


class ServiceUnavailable(DomainError):
    code = "unavailable"

    def __init__(self, message: str, retry_after: int | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class TooLarge(DomainError):
    code = "payload_too_large"

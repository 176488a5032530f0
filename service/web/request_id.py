"""Request ids: taken from X-Request-ID when sane, otherwise made here, and stamped on every log line."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import Any

SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
SCOPE_KEY = "request_id"

# A plain ContextVar is cheaper per request than structlog's bind/reset of context variables.
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def choose_request_id(header_value: bytes | None) -> str:
    if header_value and SANE_REQUEST_ID.match(header_value):
        return header_value.decode("ascii")
    return os.urandom(16).hex()


def request_id_of(scope: Any) -> str:
    return scope.get(SCOPE_KEY, "")


def add_request_id(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every line logged while a request runs carries its id."""
    request_id = current_request_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict

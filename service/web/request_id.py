"""Request ids: taken from X-Request-ID when sane, otherwise made here (service/logging.py stamps them on lines)."""

from __future__ import annotations

import os
import re
from typing import Any

SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
SCOPE_KEY = "request_id"


def choose_request_id(header_value: bytes | None) -> str:
    if header_value and SANE_REQUEST_ID.match(header_value):
        return header_value.decode("ascii")
    return os.urandom(16).hex()


def request_id_of(scope: Any) -> str:
    return scope.get(SCOPE_KEY, "")

"""Helpers shared by the Auth sources."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any

import structlog

Warn = Callable[[str], None]
log = structlog.get_logger()


class AuthSourceError(ValueError):
    """Auth input that cannot be read (the message names the file, line or uid)."""


def log_warning(message: str) -> None:
    log.warning("auth.source", message=message)


def standard_b64(value: str | None, what: str) -> str | None:
    """Any base64 (standard or URL-safe, padded or not) -> standard padded base64; '' -> None."""
    if not value:
        return None
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuthSourceError(f"{what}: not base64: {exc}") from None
    return base64.b64encode(raw).decode("ascii")


def epoch_ms(value: Any, what: str) -> int | None:
    """Epoch milliseconds given as int or decimal string ('' or None -> None)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AuthSourceError(f"{what}: not epoch milliseconds: {value!r}") from None


def claims(value: Any, what: str) -> dict[str, Any] | None:
    """Custom claims given as a JSON string (exports) or a dict (Admin SDK)."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise AuthSourceError(f"{what}: custom claims are not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise AuthSourceError(f"{what}: custom claims are not a JSON object")
    return parsed or None


def providers(listed: Iterable[str], *, has_hash: bool, phone: str | None) -> list[str]:
    """Exports list only federated providers; add 'password'/'phone' where the account shows them."""
    out = list(dict.fromkeys(listed))
    if has_hash and "password" not in out:
        out.append("password")
    if phone and "phone" not in out:
        out.append("phone")
    return out

"""Row ids in paths and bodies."""

from __future__ import annotations

import uuid

from service.errors import NotFound


def parse_id(raw: str, what: str) -> uuid.UUID:
    """Ids are UUIDs; anything else cannot name a row, so it is the same 404 as an id of someone else's."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(what) from None

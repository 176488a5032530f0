"""Base for request/response DTOs: msgspec structs, camelCase on the wire so the SPA's field names keep working."""

from __future__ import annotations

import msgspec


class CamelStruct(msgspec.Struct, rename="camel"):
    """Unknown fields in a request body are ignored (msgspec's default), as the SPA sends extra keys."""

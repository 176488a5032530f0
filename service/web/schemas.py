"""Base for request/response DTOs: msgspec structs, camelCase on the wire so the SPA's field names keep working."""

from __future__ import annotations

import uuid

import msgspec


class CamelStruct(msgspec.Struct, rename="camel"):
    """Request bodies that the SPA writes declare `forbid_unknown_fields=True`: a field we do not know is a 400
    naming it, never silently dropped."""


class Deleted(CamelStruct):
    """The answer to a DELETE: 200 with a body, because the SPA's pages call `.json()` on it."""

    id: uuid.UUID
    deleted: bool = True

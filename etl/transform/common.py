"""Field names shared by several collections."""

from __future__ import annotations

from etl.transform.convert import timestamp
from etl.transform.engine import Field, Ref

# The owner of a contact, campaign or call: a uid (or reference), or the owner's e-mail in older data.
OWNER = Ref("user_id", ("userId", "userEmail", "ownerId", "uid", "createdBy"), "users", "users", by_email=True)

CREATED_AT = Field("created_at", ("createdAt", "created", "dateCreated"), timestamp)
UPDATED_AT = Field("updated_at", ("updatedAt", "updated", "lastUpdated"), timestamp)
DELETED_AT = Field("deleted_at", ("deletedAt",), timestamp)

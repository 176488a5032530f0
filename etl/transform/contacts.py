"""``contacts``: the people a user calls."""

from __future__ import annotations

from typing import Any

from etl.snapshot import Document
from etl.transform.common import CREATED_AT, DELETED_AT, OWNER, UPDATED_AT
from etl.transform.convert import choice, phone_e164, string_list, text
from etl.transform.engine import Field, Spec
from etl.values import to_python
from service.db.vocabulary import CONTACT_STATUSES

FULL_NAME = ("fullName", "name")


def _split_full_name(row: dict[str, Any], doc: Document) -> None:
    """Older contacts have one name field. It is also kept in extra, so export writes it back."""
    if row["first_name"] is not None or row["last_name"] is not None:
        return
    name = next((n for n in FULL_NAME if n in doc.fields), None)
    value = to_python(doc.fields[name]).value if name else None
    if isinstance(value, str) and value.strip():
        first, _, last = value.strip().partition(" ")
        row["first_name"], row["last_name"] = first, last.strip() or None


CONTACTS = Spec(
    name="contacts",
    pattern="contacts",
    table="contacts",
    refs=(OWNER,),
    derive=_split_full_name,
    fields=(
        Field("first_name", ("firstName",), text),
        Field("last_name", ("lastName",), text),
        Field("phone", ("phone", "phoneNumber"), phone_e164),
        Field("email", ("email",), text),
        Field("company", ("company", "companyName"), text),
        Field("job_title", ("jobTitle", "title"), text),
        Field("industry", ("industry",), text),
        Field("notes", ("notes",), text),
        Field("tags", ("tags",), string_list, default=[]),
        Field("source", ("source",), text),
        Field(
            "status",
            ("status",),
            choice(CONTACT_STATUSES, {"dnc": "do_not_call", "lead": "new", "not interested": "not_interested"}),
            default="new",
        ),
        Field("timezone", ("timezone", "timeZone"), text),
        CREATED_AT,
        UPDATED_AT,
        DELETED_AT,
    ),
)

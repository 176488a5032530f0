"""/api/contacts: the SPA's contact routes.

The three hot ones (list, get, create) answer pre-encoded bytes: rows become ContactOut structs positionally
and msgspec encodes them in one call, with no per-request DTO work on top. The service is an app-level
dependency whose sync provider returns the instance built at start-up.
"""

from __future__ import annotations

from litestar import HttpMethod, Request, Response, Router, delete, get, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.contacts.schemas import (
    CONTACT_FILTERS,
    ContactIn,
    ContactOut,
    ContactQuery,
    ImportReport,
    encode,
    encode_contacts,
)
from service.contacts.service import ContactsService
from service.errors import ValidationFailed
from service.web.caller import AuthUser
from service.web.ids import parse_id
from service.web.lists import JSON, page_response
from service.web.openapi import Body, csv_upload_body, documented, query, text
from service.web.schemas import Deleted
from service.web.uploads import csv_upload

BULK_MAX_BYTES = 16 * 1024 * 1024
# 50 MB of CSV plus the multipart envelope around it.
IMPORT_MAX_BYTES = 50 * 1024 * 1024 + 64 * 1024

Contacts = NamedDependency[ContactsService]
SEARCH = query("q", text(), "part of a name, e-mail, phone or company (case- and accent-insensitive)")
CONTACT_EXAMPLE = {
    "id": "0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e",
    "userId": "0190f3a2-1111-7b1a-9d2e-3f4a5b6c7d8e",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "fullName": "Ada Lovelace",
    "email": "ada@example.com",
    "phoneNumber": "+14155550100",
    "companyName": "Acme",
    "jobTitle": None,
    "industry": None,
    "notes": None,
    "tags": ["vip"],
    "source": None,
    "status": "new",
    "timezone": "America/Los_Angeles",
    "createdAt": "2026-11-21T23:11:06.756312Z",
    "updatedAt": "2026-11-21T23:11:06.756312Z",
}
NEW_CONTACT = {"firstName": "Ada", "lastName": "Lovelace", "phone": "+1 415 555 0100", "tags": ["vip"]}
REPORT_EXAMPLE = {"inserted": 998, "duplicates": 1, "rejected": [], "rejectedCount": 0}
AuthRequest = Request[AuthUser, object, State]


@documented(returns=list[ContactOut], paged=True, query=(*CONTACT_FILTERS, SEARCH), errors=(404,))
@get("/")
async def list_contacts(request: AuthRequest, contacts: Contacts) -> Response[bytes]:
    """Newest first; filters `status`, `tag`, `campaignId`, `q`; `limit` (100, max 1000) and `cursor`."""
    query = ContactQuery.parse(request.query_params, search=(request.query_params.get("q") or "").strip() or None)
    return page_response(request, await contacts.page(request.user.id, query), query.limit, encode_contacts)


@documented(
    returns=list[ContactOut],
    paged=True,
    query=(query("q", text(min_length=1), SEARCH.description or "", required=True), *CONTACT_FILTERS),
    errors=(404,),
)
@get("/search")
async def search_contacts(request: AuthRequest, contacts: Contacts) -> Response[bytes]:
    """Partial, case- and accent-insensitive match on name, e-mail, phone and company."""
    q = (request.query_params.get("q") or "").strip()
    if not q:
        raise ValidationFailed.field("q", "required", message="q is required")
    query = ContactQuery.parse(request.query_params, search=q)
    return page_response(request, await contacts.page(request.user.id, query), query.limit, encode_contacts)


@documented(returns=ContactOut, example=CONTACT_EXAMPLE)
@get("/{contact_id:str}")
async def get_contact(request: AuthRequest, contacts: Contacts, contact_id: FromPath[str]) -> Response[bytes]:
    contact = await contacts.get(request.user.id, parse_id(contact_id, "Contact"))
    return Response(encode(contact), media_type=JSON)


@documented(returns=ContactOut, example=CONTACT_EXAMPLE, request_example=NEW_CONTACT)
@post("/")
async def create_contact(request: AuthRequest, contacts: Contacts, data: JSONBody[ContactIn]) -> Response[bytes]:
    contact = await contacts.create(request.user.id, data)
    return Response(encode(contact), media_type=JSON, status_code=HTTP_201_CREATED)


@documented(example=CONTACT_EXAMPLE, request_example={"status": "interested"})
@route("/{contact_id:str}", http_method=[HttpMethod.PUT, HttpMethod.PATCH])
async def update_contact(
    request: AuthRequest, contacts: Contacts, contact_id: FromPath[str], data: JSONBody[ContactIn]
) -> ContactOut:
    """PUT and PATCH alike change only the fields sent (the SPA's pages send partial objects)."""
    return await contacts.update(request.user.id, parse_id(contact_id, "Contact"), data)


@delete("/{contact_id:str}", status_code=HTTP_200_OK)
async def delete_contact(request: AuthRequest, contacts: Contacts, contact_id: FromPath[str]) -> Deleted:
    """Soft delete: calls keep their contact, the lists stop showing it. 200 with a body: the SPA reads it."""
    contact = parse_id(contact_id, "Contact")
    await contacts.delete(request.user.id, contact)
    return Deleted(id=contact)


@documented(
    body=Body(
        {JSON: list[ContactIn] | dict[str, list[ContactIn]]},
        example={"contacts": [NEW_CONTACT]},
        description='`{"contacts": [...]}` or a bare array, up to 10,000',
    ),
    example=REPORT_EXAMPLE,
)
@post("/bulk", request_max_body_size=BULK_MAX_BYTES)
async def bulk_create(request: AuthRequest, contacts: Contacts, partial: FromQuery[bool] = False) -> ImportReport:
    """Up to 10,000 contacts in one COPY; all or nothing unless `?partial=true`."""
    return await contacts.bulk(request.user.id, await request.body(), partial=partial)


@documented(
    body=csv_upload_body("up to 50 MB"),
    example=REPORT_EXAMPLE,
    errors=(415,),
)
@post("/import", request_max_body_size=IMPORT_MAX_BYTES)
async def import_csv(request: AuthRequest, contacts: Contacts, partial: FromQuery[bool] = False) -> ImportReport:
    """A CSV file (multipart field of any name, or the raw body as text/csv) of up to 50 MB."""
    with await csv_upload(request) as file:
        return await contacts.import_csv(request.user.id, file, partial=partial)


router = Router(
    path="/api/contacts",
    route_handlers=[
        list_contacts,
        search_contacts,
        get_contact,
        create_contact,
        update_contact,
        delete_contact,
        bulk_create,
        import_csv,
    ],
    tags=["contacts"],
)

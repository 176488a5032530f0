"""/api/contacts: the SPA's contact routes.

The three hot ones (list, get, create) answer pre-encoded bytes: rows become ContactOut structs positionally
and msgspec encodes them in one call, with no per-request DTO or DI work on top.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from typing import IO

import anyio
from litestar import HttpMethod, Request, Response, Router, delete, get, post, route
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.campaigns import repository as campaigns
from service.contacts import repository
from service.contacts.csv_import import CsvError, read_batches
from service.contacts.schemas import ContactIn, ContactOut, ImportReport
from service.contacts.service import (
    Validated,
    bulk_writer,
    columns_or_400,
    contact_out,
    decode_bulk,
    encode,
    validate_row,
)
from service.db.models.contacts import CONTACT_STATUSES
from service.web.errors import ApiError, NotFound
from service.web.ids import parse_id
from service.web.pagination import decode_cursor, paginate, parse_choice, parse_limit
from service.web.schemas import Deleted

JSON = "application/json"
BULK_MAX_BYTES = 16 * 1024 * 1024
# 50 MB of CSV plus the multipart envelope around it.
IMPORT_MAX_BYTES = 50 * 1024 * 1024 + 64 * 1024


def region(request: Request) -> str:
    return request.app.state.settings.default_phone_region


async def list_response(
    request: Request, *, search: str | None = None, campaign_id: uuid.UUID | None = None
) -> Response[bytes]:
    """A page of the caller's live contacts, newest first. A campaign filter names one of the caller's campaigns."""
    query = request.query_params
    owner = request.user.id
    status = parse_choice(query.get("status"), "status", CONTACT_STATUSES)
    if campaign_id is None and (raw_campaign := query.get("campaignId")) is not None:
        campaign_id = parse_id(raw_campaign, "Campaign")
    if campaign_id is not None and not await campaigns.exists(request.app.state.pool, owner, campaign_id):
        raise NotFound("Campaign not found")
    cursor = query.get("cursor")
    limit = parse_limit(query.get("limit"))
    where = repository.ListFilter(
        status=status,
        tag=query.get("tag"),
        campaign_id=campaign_id,
        search=search,
        after=decode_cursor(cursor) if cursor else None,
    )
    rows, headers = paginate(
        await repository.list_page(request.app.state.pool, owner, where, limit), limit, request.scope["path"], query
    )
    return Response(encode([ContactOut(*row) for row in rows]), media_type=JSON, headers=headers)


@get("/")
async def list_contacts(request: Request) -> Response[bytes]:
    """Newest first; filters `status`, `tag`, `campaignId`, `q`; `limit` (100, max 1000) and `cursor`."""
    return await list_response(request, search=(request.query_params.get("q") or "").strip() or None)


@get("/search")
async def search_contacts(request: Request) -> Response[bytes]:
    """Partial, case- and accent-insensitive match on name, e-mail, phone and company."""
    q = (request.query_params.get("q") or "").strip()
    if not q:
        raise ApiError("q is required", code="validation_error", details=[{"field": "q", "message": "required"}])
    return await list_response(request, search=q)


@get("/{contact_id:str}")
async def get_contact(request: Request, contact_id: FromPath[str]) -> Response[bytes]:
    row = await repository.get(request.app.state.pool, request.user.id, parse_id(contact_id, "Contact"))
    return Response(encode(contact_out(row)), media_type=JSON)


@post("/")
async def create_contact(request: Request, data: JSONBody[ContactIn]) -> Response[bytes]:
    """Never refuses a duplicate: one contact may be entered twice on purpose (bulk and import report them)."""
    columns = columns_or_400(data, region(request), replace=True)
    row = await repository.insert(request.app.state.pool, request.user.id, columns)
    return Response(encode(contact_out(row)), media_type=JSON, status_code=HTTP_201_CREATED)


@route("/{contact_id:str}", http_method=[HttpMethod.PUT, HttpMethod.PATCH])
async def update_contact(request: Request, contact_id: FromPath[str], data: JSONBody[ContactIn]) -> ContactOut:
    """PUT and PATCH alike change only the fields sent (the SPA's pages send partial objects)."""
    columns = columns_or_400(data, region(request), replace=False)
    row = await repository.update(request.app.state.pool, request.user.id, parse_id(contact_id, "Contact"), columns)
    return contact_out(row)


@delete("/{contact_id:str}", status_code=HTTP_200_OK)
async def delete_contact(request: Request, contact_id: FromPath[str]) -> Deleted:
    """Soft delete: calls keep their contact, the lists stop showing it. 200 with a body: the SPA reads it."""
    contact = parse_id(contact_id, "Contact")
    if not await repository.soft_delete(request.app.state.pool, request.user.id, contact):
        raise NotFound("Contact not found")
    return Deleted(id=contact)


@post("/bulk", request_max_body_size=BULK_MAX_BYTES)
async def bulk_create(request: Request, partial: FromQuery[bool] = False) -> ImportReport:
    """Up to 10,000 contacts in one COPY; all or nothing unless `?partial=true`."""
    data = decode_bulk(await request.body())
    where = region(request)
    # Validation (phone parsing above all) is CPU work: off the event loop, other requests keep flowing.
    batch = await anyio.to_thread.run_sync(lambda: [validate_row(i, raw, where) for i, raw in enumerate(data)])
    async with bulk_writer(request.app.state.pool, request.user.id, partial=partial) as writer:
        await writer.write(batch)
        return writer.report()


@post("/import", request_max_body_size=IMPORT_MAX_BYTES)
async def import_csv(request: Request, partial: FromQuery[bool] = False) -> ImportReport:
    """A CSV file (multipart field of any name, or the raw body as text/csv) of up to 50 MB."""
    with await csv_upload(request) as file:
        batches = read_batches(file, region(request))
        async with bulk_writer(request.app.state.pool, request.user.id, partial=partial) as writer:
            while (batch := await anyio.to_thread.run_sync(next_batch, batches)) is not None:
                await writer.write(batch)
            return writer.report()


def next_batch(batches: Iterator[list[Validated]]) -> list[Validated] | None:
    try:
        return next(batches)
    except StopIteration:
        return None
    except CsvError as exc:
        raise ApiError(str(exc), code="invalid_csv") from None


async def csv_upload(request: Request) -> IO[bytes]:
    """The uploaded file, spooled to disk past 1 MB by Litestar's streaming multipart parser."""
    content_type, _ = request.content_type
    if content_type == RequestEncodingType.MULTI_PART:
        form = await request.form()
        upload = next((value for _, value in form.multi_items() if isinstance(value, UploadFile)), None)
        if upload is None:
            raise ApiError("Attach the CSV file to the form (e.g. field 'file')", code="missing_file")
        return upload.file  # type: ignore[return-value]
    if content_type in ("text/csv", "application/csv", "text/plain", "application/octet-stream"):
        spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed by the caller
        async for chunk in request.stream():
            spooled.write(chunk)
        spooled.seek(0)
        return spooled  # type: ignore[return-value]
    raise ApiError("Send a CSV file as multipart/form-data or text/csv", status_code=415, code="unsupported_media_type")


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

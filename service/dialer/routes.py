"""The dialer's routes: a campaign's dialing rules, the do-not-call list, and (administrators) the pacing."""

from __future__ import annotations

from litestar import Request, Response, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.dialer.schemas import DoNotCallImport, DoNotCallIn, DoNotCallOut, PacingIn, PacingOut, RulesIn, RulesOut
from service.dialer.service import DialerService
from service.errors import ValidationFailed
from service.phones import E164
from service.web.caller import AuthUser
from service.web.guards import admin_only
from service.web.ids import parse_id
from service.web.openapi import csv_upload_body, documented
from service.web.pagination import parse_limit
from service.web.uploads import csv_upload

Dialing = NamedDependency[DialerService]
AuthRequest = Request[AuthUser, object, State]
# A CSV of numbers: 100,000 lines fit well within this.
IMPORT_MAX_BYTES = 4 * 1024 * 1024


@get("/api/campaigns/{campaign_id:str}/dialing")
async def get_rules(request: AuthRequest, dialing: Dialing, campaign_id: FromPath[str]) -> RulesOut:
    """Calling hours (in each contact's zone), days, retries and answering-machine handling."""
    return await dialing.rules(request.user.id, parse_id(campaign_id, "Campaign"))


@put("/api/campaigns/{campaign_id:str}/dialing")
async def put_rules(
    request: AuthRequest, dialing: Dialing, campaign_id: FromPath[str], data: JSONBody[RulesIn]
) -> RulesOut:
    """Changes only the fields sent; a running campaign uses them from its next claim."""
    return await dialing.save_rules(request.user.id, parse_id(campaign_id, "Campaign"), data)


@get("/api/do-not-call")
async def list_do_not_call(
    request: AuthRequest, dialing: Dialing, limit: FromQuery[str | None] = None, after: FromQuery[str | None] = None
) -> Response[list[DoNotCallOut]]:
    """The account's numbers in order; `after` (the last number of a page) gives the next, named by X-Next-Cursor."""
    size = parse_limit(limit)
    rows = await dialing.do_not_call(request.user.id, _number_cursor(after), size)
    headers = {"X-Next-Cursor": rows[size - 1].phone_number} if len(rows) > size else {}
    return Response(rows[:size], headers=headers)


@documented(extra_statuses={200: "the number was already listed"})
@post("/api/do-not-call")
async def add_do_not_call(
    request: AuthRequest, dialing: Dialing, data: JSONBody[DoNotCallIn]
) -> Response[DoNotCallOut]:
    """201 when added, 200 when the number was already listed."""
    entry, added = await dialing.add_do_not_call(request.user.id, data)
    return Response(entry, status_code=HTTP_201_CREATED if added else HTTP_200_OK)


@documented(body=csv_upload_body("up to 4 MB"), errors=(415,))
@post("/api/do-not-call/import", status_code=HTTP_201_CREATED, request_max_body_size=IMPORT_MAX_BYTES)
async def import_do_not_call(
    request: AuthRequest, dialing: Dialing, reason: FromQuery[str | None] = None
) -> DoNotCallImport:
    """A CSV (multipart or text/csv) with a phone column, or one number per line."""
    with await csv_upload(request) as file:
        return await dialing.import_do_not_call(request.user.id, file, reason)


@delete("/api/do-not-call/{phone:str}", status_code=HTTP_200_OK)
async def remove_do_not_call(request: AuthRequest, dialing: Dialing, phone: FromPath[str]) -> dict[str, object]:
    removed = await dialing.remove_do_not_call(request.user.id, phone)
    return {"phoneNumber": removed, "deleted": True}


@get("/api/admin/dialer/pacing", guards=[admin_only])
async def get_pacing(dialing: Dialing) -> PacingOut:
    """The Twilio account's limits, shared by every campaign and worker."""
    return await dialing.pacing()


@put("/api/admin/dialer/pacing", guards=[admin_only])
async def put_pacing(dialing: Dialing, data: JSONBody[PacingIn]) -> PacingOut:
    return await dialing.save_pacing(data)


router = Router(
    path="/",
    route_handlers=[
        get_rules,
        put_rules,
        list_do_not_call,
        add_do_not_call,
        import_do_not_call,
        remove_do_not_call,
        get_pacing,
        put_pacing,
    ],
    tags=["dialer"],
)


def _number_cursor(raw: str | None) -> str | None:
    """``after``: the X-Next-Cursor of the previous page, the last number it listed (as stored: E.164)."""
    if raw is None or E164.fullmatch(raw):
        return raw
    message = "after must be the X-Next-Cursor of the previous page (a number such as +14155550100)"
    raise ValidationFailed.field("after", "not a page cursor", message=message, code="invalid_cursor")

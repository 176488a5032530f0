"""/api/calls (the Fastify plan's paths), /api/call and /api/sms (the older pages'), and Twilio's webhooks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.calls import twiml
from service.calls.schemas import CallIn, CallOut, CallStatusOut, EndOut, SmsIn, SmsOut
from service.calls.service import CallService, call_out, status_out
from service.web.caller import AuthUser
from service.web.ids import parse_id
from service.web.openapi import UUID_OR_EMPTY, Body, documented, query, text
from service.web.pagination import decode_cursor, paginate, parse_limit

XML = "text/xml"
Calls = NamedDependency[CallService]
DIAL_ERRORS = (402, 404, 409, 502)  # credits, an unknown contact, do-not-contact, Twilio refusing
TWILIO_FORM = Body(
    {"application/x-www-form-urlencoded": Schema(type=OpenAPIType.OBJECT, additional_properties=text())},
    description="Twilio's parameters (CallSid, CallStatus, ...), signed in X-Twilio-Signature",
)
WEBHOOK = {"returns": text(), "media_type": XML, "errors": (403,)}  # 403: the signature does not match
AuthRequest = Request[AuthUser, object, State]


async def page(
    request: AuthRequest,
    calls: CallService,
    *,
    contact_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
) -> Response[list[CallOut]]:
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    rows = await calls.list(
        request.user.id,
        contact_id=contact_id,
        campaign_id=campaign_id,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    shown, headers = paginate(rows, limit, request.scope["path"], query)
    return Response([call_out(row) for row in shown], headers=headers)


@documented(paged=True, query=(query("campaignId", UUID_OR_EMPTY, "only this campaign's calls"),), errors=(404,))
@get("/")
async def list_calls(request: AuthRequest, calls: Calls) -> Response[list[CallOut]]:
    """Newest first; `limit` (100, max 1000) and `cursor`, like the contacts. `?campaignId=` filters."""
    raw = request.query_params.get("campaignId")
    return await page(request, calls, campaign_id=parse_id(raw, "Campaign") if raw else None)


@documented(paged=True)
@get("/contact/{contact_id:str}")
async def list_for_contact(request: AuthRequest, calls: Calls, contact_id: FromPath[str]) -> Response[list[CallOut]]:
    return await page(request, calls, contact_id=parse_id(contact_id, "Contact"))


@documented(paged=True)
@get("/campaign/{campaign_id:str}")
async def list_for_campaign(request: AuthRequest, calls: Calls, campaign_id: FromPath[str]) -> Response[list[CallOut]]:
    return await page(request, calls, campaign_id=parse_id(campaign_id, "Campaign"))


@get("/{key:str}")
async def get_call(request: AuthRequest, calls: Calls, key: FromPath[str]) -> CallOut:
    """By Twilio's sid or by id. Webhooks keep it current, so the SPA's poller reads the database only."""
    return call_out(await calls.get(request.user.id, key))


@documented(extra_statuses={200: "a finished call logged before with the same sid"}, errors=DIAL_ERRORS)
@post("/", status_code=HTTP_201_CREATED)
async def place_or_log_call(request: AuthRequest, calls: Calls, data: JSONBody[CallIn]) -> Response[CallOut]:
    """Places a call; with a `status` label, logs a finished one instead (CallInterface's use)."""
    if isinstance(data.status, str):
        row, created = await calls.log_finished(request.user.id, data)
        return Response(call_out(row), status_code=HTTP_201_CREATED if created else HTTP_200_OK)
    return Response(call_out(await calls.place(request.user.id, data)), status_code=HTTP_201_CREATED)


@documented(errors=(409, 502))
@post("/{key:str}/end", status_code=HTTP_200_OK)
async def end_call(request: AuthRequest, calls: Calls, key: FromPath[str]) -> EndOut:
    sid, status = await calls.end(request.user.id, key)
    return EndOut(success=True, sid=sid, status=status)


@documented(errors=DIAL_ERRORS)
@post("/sms", status_code=HTTP_201_CREATED)
async def send_sms(request: AuthRequest, calls: Calls, data: JSONBody[SmsIn]) -> SmsOut:
    return await calls.send_sms(request.user.id, data)


# -- the older pages' paths (client/src/lib/twilio.ts) -----------------------------------------------------------
@documented(errors=DIAL_ERRORS)
@post("/api/call", status_code=HTTP_201_CREATED)
async def legacy_place(request: AuthRequest, calls: Calls, data: JSONBody[CallIn]) -> CallStatusOut:
    row = await calls.place(request.user.id, data)
    return status_out(row, calls.caller_id)


@get("/api/call/{key:str}")
async def legacy_status(request: AuthRequest, calls: Calls, key: FromPath[str]) -> CallStatusOut:
    row = await calls.get(request.user.id, key)
    return status_out(row, calls.caller_id)


@documented(errors=(409, 502))
@post("/api/call/{key:str}/end", status_code=HTTP_200_OK)
async def legacy_end(request: AuthRequest, calls: Calls, key: FromPath[str]) -> EndOut:
    sid, status = await calls.end(request.user.id, key)
    return EndOut(success=True, sid=sid, status=status)


@documented(errors=DIAL_ERRORS)
@post("/api/sms", status_code=HTTP_201_CREATED)
async def legacy_sms(request: AuthRequest, calls: Calls, data: JSONBody[SmsIn]) -> SmsOut:
    return await calls.send_sms(request.user.id, data)


# -- Twilio's webhooks: no user, Twilio's signature instead ------------------------------------------------------
async def verified(request: Request, calls: CallService) -> dict[str, str]:
    """The form Twilio posted, once its X-Twilio-Signature matches the public URL; else 403 and nothing done."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    params = (
        dict(parse_qsl((await request.body()).decode(), keep_blank_values=True)) if request.method == "POST" else {}
    )
    path_and_query = request.scope["path"] + (f"?{query}" if query else "")
    calls.check_signature(path_and_query, params, request.headers.get("x-twilio-signature"))
    return params


def xml(body: str) -> Response[str]:
    return Response(body, media_type=XML)


async def ingest(
    request: Request,
    calls: CallService,
    apply: Callable[[CallService, dict[str, str]], Awaitable[None]],
    answer: str,
) -> Response[str]:
    """A verified webhook handed to the service; Twilio gets TwiML back whatever the route."""
    await apply(calls, await verified(request, calls))
    return xml(answer)


@documented(body=TWILIO_FORM, **WEBHOOK)
@post("/api/calls/status", exclude_from_auth=True, status_code=HTTP_200_OK)
async def status_webhook(request: Request, calls: Calls) -> Response[str]:
    """Call progress. Stored raw, applied once; an unknown CallSid is stored and answered 200."""
    return await ingest(request, calls, CallService.status_callback, twiml.empty())


@documented(
    query=(
        query("callId", text(), "the call whose script to speak"),
        query("script", text(), "without callId: the text to speak"),
        query("language", text(), "without callId: its language"),
    ),
    **WEBHOOK,
)
@get("/api/twilio/twiml", exclude_from_auth=True)
async def call_twiml(request: Request, calls: Calls) -> Response[str]:
    await verified(request, calls)
    query = request.query_params
    row = await calls.twiml_for(query.get("callId"))
    if row is None:  # the Fastify plan's form: ?script=&language=
        script, language, record = query.get("script"), query.get("language"), bool(query.get("script"))
    else:
        script, language, record = row["script"], row["language"], row["recording_enabled"]
        # The dialer's calls ask for answering-machine detection; Twilio names the verdict when it fetches this.
        if row["dial_attempt"] is not None and query.get("AnsweredBy", "").startswith(("machine", "fax")):
            voicemail = row["voicemail_message"]
            return xml(twiml.message(voicemail, language) if voicemail else twiml.hang_up())
    return xml(
        twiml.call_script(
            script,
            language,
            record=record,
            recording_action=calls.url("/api/twilio/recording-status"),
            transcription_callback=calls.url("/api/twilio/transcription"),
        )
    )


@documented(body=TWILIO_FORM, **WEBHOOK)
@post("/api/twilio/recording-status", exclude_from_auth=True, status_code=HTTP_200_OK)
async def recording_webhook(request: Request, calls: Calls) -> Response[str]:
    """Both <Record>'s action (which must answer TwiML) and a recording status callback."""
    return await ingest(request, calls, CallService.recording, twiml.hang_up())


@documented(body=TWILIO_FORM, **WEBHOOK)
@post("/api/twilio/transcription", exclude_from_auth=True, status_code=HTTP_200_OK)
async def transcription_webhook(request: Request, calls: Calls) -> Response[str]:
    return await ingest(request, calls, CallService.transcription, twiml.empty())


@documented(**WEBHOOK)
@get("/api/twilio/conference/{room:str}", exclude_from_auth=True)
async def conference(request: Request, calls: Calls, room: FromPath[str]) -> Response[str]:
    await verified(request, calls)
    if not room.replace("-", "").replace("_", "").isalnum() or len(room) > 64:
        return xml(twiml.message("Sorry, this conference room does not exist."))
    return xml(twiml.conference(room))


@documented(body=TWILIO_FORM, **WEBHOOK)
@post("/api/twilio/sms", exclude_from_auth=True, status_code=HTTP_200_OK)
async def inbound_sms_webhook(request: Request, calls: Calls) -> Response[str]:
    """The number's "A message comes in" webhook: stored, linked to the contact, STOP/START applied."""
    return await ingest(request, calls, CallService.inbound_sms, twiml.empty())


@documented(body=TWILIO_FORM, **WEBHOOK)
@post("/api/twilio/sms-status", exclude_from_auth=True, status_code=HTTP_200_OK)
async def sms_status_webhook(request: Request, calls: Calls) -> Response[str]:
    return await ingest(request, calls, CallService.sms_status, twiml.empty())


webhooks = [
    status_webhook,
    call_twiml,
    recording_webhook,
    transcription_webhook,
    conference,
    inbound_sms_webhook,
    sms_status_webhook,
]
calls_router = Router(
    path="/api/calls",
    route_handlers=[list_calls, list_for_contact, list_for_campaign, get_call, place_or_log_call, end_call, send_sms],
    tags=["calls"],
)
legacy_routes = [legacy_place, legacy_status, legacy_end, legacy_sms]

"""/api/analytics/* (the dashboard and analytics pages) and /api/admin/analytics/* (all accounts).

Query parameters everywhere: `from`, `to` (ISO date or date-time on a quarter hour; [from, to)), `tz` (IANA,
default UTC).
"""

from __future__ import annotations

import uuid

from litestar import Request, Response, Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath
from litestar.response import Stream

from service.analytics.schemas import AdminOverview, CampaignAnalytics, Overview, Series, encode_activity
from service.analytics.service import INTERVALS, AnalyticsService, Period, period
from service.db.models.analytics import ACTIVITY_KINDS
from service.web.caller import AuthUser
from service.web.guards import admin_only
from service.web.ids import parse_id
from service.web.lists import page_response
from service.web.openapi import UUID, UUID_OR_EMPTY, choice, documented, query, text
from service.web.pagination import decode_cursor, parse_choice, parse_limit

Analytics = NamedDependency[AnalyticsService]
PERIOD = (
    query("from", text(), "ISO date (local midnight) or date-time on a quarter hour; included"),
    query("to", text(), "ISO date or date-time on a quarter hour; excluded (default: the next local midnight)"),
    query("tz", text(), "IANA time zone (default UTC)"),
)
CAMPAIGN = query("campaignId", UUID_OR_EMPTY, "only this campaign of the caller's (someone else's: 404)")
INTERVAL = query("interval", choice(("", *INTERVALS)), "bucket size (empty or absent: day)")
ACTIVITY = Schema(
    type=OpenAPIType.ARRAY,
    items=Schema(
        type=OpenAPIType.OBJECT,
        required=["id", "kind", "occurredAt"],
        properties={"id": UUID, "kind": choice(ACTIVITY_KINDS), "occurredAt": text()},
        description="plus the entry's data: callId, contactId, campaignId, status, outcome, durationSeconds, ...",
    ),
)
AuthRequest = Request[AuthUser, object, State]


def when(request: AuthRequest) -> Period:
    query = request.query_params
    return period(query.get("from"), query.get("to"), query.get("tz"))


def campaign_of(request: AuthRequest) -> uuid.UUID | None:
    raw = request.query_params.get("campaignId")
    return parse_id(raw, "Campaign") if raw else None


def interval_of(request: AuthRequest) -> str:
    return request.query_params.get("interval") or "day"


@documented(query=(*PERIOD, CAMPAIGN), errors=(404,))
@get("/overview")
async def overview(request: AuthRequest, analytics: Analytics) -> Overview:
    """Calls by outcome, talk time, conversion, contacts, SMS and AI credits; `?campaignId=` narrows the calls."""
    return await analytics.overview(request.user.id, when(request), campaign_of(request))


@documented(query=(*PERIOD, INTERVAL, CAMPAIGN), errors=(404,))
@get("/series")
async def series(request: AuthRequest, analytics: Analytics) -> Series:
    """Calls by outcome and conversion per `interval` (hour, day, week) in `tz`, empty buckets included."""
    return await analytics.series(request.user.id, when(request), interval_of(request), campaign_of(request))


@documented(query=PERIOD)
@get("/campaigns/{campaign_id:str}")
async def campaign(request: AuthRequest, analytics: Analytics, campaign_id: FromPath[str]) -> CampaignAnalytics:
    """Funnel (to call, dialed, answered, appointment), outcome mix, calls by local hour and the best hours."""
    return await analytics.campaign(request.user.id, parse_id(campaign_id, "Campaign"), when(request))


@documented(returns=ACTIVITY, paged=True, query=(query("kind", choice(ACTIVITY_KINDS), "only this kind"),))
@get("/activity")
async def activity(request: AuthRequest, analytics: Analytics) -> Response[bytes]:
    """The feed, newest first: calls finished, appointments set, campaigns started or completed, contacts
    added. `kind` filters; `limit` (100, max 1000) and `cursor` as for contacts. Live additions arrive as
    analytics.activity events on /api/events."""
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    rows = await analytics.activity(
        request.user.id,
        decode_cursor(cursor) if cursor else None,
        parse_choice(query.get("kind"), "kind", ACTIVITY_KINDS),
        limit,
    )
    return page_response(request, rows, limit, encode_activity)


@documented(returns=text(), media_type="text/csv; charset=utf-8", query=(*PERIOD, CAMPAIGN), errors=(404,))
@get("/export")
async def export(request: AuthRequest, analytics: Analytics) -> Stream:
    """The caller's calls of the period with their outcomes as CSV (oldest first; times in `tz`), streamed;
    `campaignId` narrows."""
    asked = when(request)
    body = await analytics.export(request.user.id, asked, campaign_of(request))
    name = f"calls-{asked.start.date().isoformat()}-{asked.end.date().isoformat()}.csv"
    return Stream(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@documented(query=PERIOD)
@get("/overview")
async def admin_overview(request: AuthRequest, analytics: Analytics) -> AdminOverview:
    """The overview across all accounts, plus active users (who made a call) and all credits spent."""
    return await analytics.admin_overview(when(request))


@documented(query=(*PERIOD, INTERVAL))
@get("/series")
async def admin_series(request: AuthRequest, analytics: Analytics) -> Series:
    return await analytics.series(None, when(request), interval_of(request))


router = Router("/api/analytics", route_handlers=[overview, series, campaign, activity, export])
admin_router = Router("/api/admin/analytics", route_handlers=[admin_overview, admin_series], guards=[admin_only])

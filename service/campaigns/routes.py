"""/api/campaigns: campaigns, their status, and their contacts."""

from __future__ import annotations

import uuid

from litestar import Request, Response, Router, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from service.campaigns import repository, service
from service.campaigns.schemas import CampaignIn, CampaignOut, MembershipIn
from service.contacts.routes import list_response
from service.db.models.campaigns import CAMPAIGN_STATUSES
from service.web.ids import parse_id
from service.web.pagination import decode_cursor, paginate, parse_choice, parse_limit
from service.web.schemas import Deleted


def campaign_id_of(raw: str) -> uuid.UUID:
    return parse_id(raw, "Campaign")


@get("/")
async def list_campaigns(request: Request) -> Response[bytes]:
    """Newest first; filter `status`; `limit` (100, max 1000) and `cursor` as for contacts."""
    query = request.query_params
    status = parse_choice(query.get("status"), "status", CAMPAIGN_STATUSES)
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    fetched = await repository.list_page(
        request.app.state.pool,
        request.user.id,
        status=status,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    rows, headers = paginate(fetched, limit, request.scope["path"], query)
    return Response(service.encode_list(rows), media_type="application/json", headers=headers)


@get("/{campaign_id:str}")
async def get_campaign(request: Request, campaign_id: FromPath[str]) -> CampaignOut:
    row = await repository.get(request.app.state.pool, request.user.id, campaign_id_of(campaign_id))
    return service.campaign_out(row)


@post("/")
async def create_campaign(request: Request, data: JSONBody[CampaignIn]) -> CampaignOut:
    return await service.create(request.app.state.pool, request.user.id, data)


@put("/{campaign_id:str}")
async def update_campaign(request: Request, campaign_id: FromPath[str], data: JSONBody[CampaignIn]) -> CampaignOut:
    return await service.update(request.app.state.pool, request.user.id, campaign_id_of(campaign_id), data)


@delete("/{campaign_id:str}", status_code=HTTP_200_OK)
async def delete_campaign(request: Request, campaign_id: FromPath[str]) -> Deleted:
    """200 with a body: the SPA's pages call `.json()` on the answer."""
    campaign = campaign_id_of(campaign_id)
    await service.delete(request.app.state.pool, request.user.id, campaign)
    return Deleted(id=campaign)


def status_route(action: str, target: str):
    async def change(request: Request, campaign_id: FromPath[str]) -> CampaignOut:
        return await service.change_status(request.app.state.pool, request.user.id, campaign_id_of(campaign_id), target)

    change.__name__ = change.__qualname__ = f"{action}_campaign"
    change.__doc__ = f"Make the campaign {target}, or 409 with the reason."
    return post(f"/{{campaign_id:str}}/{action}", status_code=HTTP_200_OK)(change)


@get("/{campaign_id:str}/contacts")
async def list_members(request: Request, campaign_id: FromPath[str]) -> Response[bytes]:
    """The campaign's live contacts, paged and filtered like GET /api/contacts."""
    return await list_response(request, campaign_id=campaign_id_of(campaign_id))


@post("/{campaign_id:str}/contacts", status_code=HTTP_200_OK)
async def add_members(request: Request, campaign_id: FromPath[str], data: JSONBody[MembershipIn]) -> CampaignOut:
    """Adds the caller's contacts; any id that is not one is 404 and nothing is added."""
    pool, owner = request.app.state.pool, request.user.id
    return await service.change_members(pool, owner, campaign_id_of(campaign_id), data.contact_ids, add=True)


@delete("/{campaign_id:str}/contacts", status_code=HTTP_200_OK)
async def remove_members(request: Request, campaign_id: FromPath[str], data: JSONBody[MembershipIn]) -> CampaignOut:
    pool, owner = request.app.state.pool, request.user.id
    return await service.change_members(pool, owner, campaign_id_of(campaign_id), data.contact_ids, add=False)


router = Router(
    path="/api/campaigns",
    route_handlers=[
        list_campaigns,
        get_campaign,
        create_campaign,
        update_campaign,
        delete_campaign,
        status_route("start", "active"),
        status_route("pause", "paused"),
        status_route("complete", "completed"),
        list_members,
        add_members,
        remove_members,
    ],
    tags=["campaigns"],
)

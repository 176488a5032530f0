"""/api/campaigns: campaigns, their status, and their contacts."""

from __future__ import annotations

import uuid

from litestar import Request, Response, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from service.campaigns.schemas import CampaignIn, CampaignOut, MembershipIn
from service.campaigns.service import CampaignsService, encode_list
from service.contacts.schemas import CONTACT_FILTERS, ContactOut, ContactQuery, encode_contacts
from service.contacts.service import ContactsService
from service.db.vocabulary import CAMPAIGN_STATUSES
from service.web.caller import AuthUser
from service.web.ids import parse_id
from service.web.lists import page_response
from service.web.openapi import choice, documented, query
from service.web.pagination import decode_cursor, parse_choice, parse_limit
from service.web.schemas import Deleted

Campaigns = NamedDependency[CampaignsService]
AuthRequest = Request[AuthUser, object, State]


def campaign_id_of(raw: str) -> uuid.UUID:
    return parse_id(raw, "Campaign")


@documented(
    returns=list[CampaignOut], paged=True, query=(query("status", choice(CAMPAIGN_STATUSES), "only this status"),)
)
@get("/")
async def list_campaigns(request: AuthRequest, campaigns: Campaigns) -> Response[bytes]:
    """Newest first; filter `status`; `limit` (100, max 1000) and `cursor` as for contacts."""
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    rows = await campaigns.page(
        request.user.id,
        status=parse_choice(query.get("status"), "status", CAMPAIGN_STATUSES),
        after=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return page_response(request, rows, limit, encode_list)


@get("/{campaign_id:str}")
async def get_campaign(request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str]) -> CampaignOut:
    return await campaigns.get(request.user.id, campaign_id_of(campaign_id))


@documented(errors=(404, 409), request_example={"name": "Spring", "script": "Hello {firstName} ...", "contactIds": []})
@post("/")
async def create_campaign(request: AuthRequest, campaigns: Campaigns, data: JSONBody[CampaignIn]) -> CampaignOut:
    return await campaigns.create(request.user.id, data)


@documented(errors=(409,))
@put("/{campaign_id:str}")
async def update_campaign(
    request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str], data: JSONBody[CampaignIn]
) -> CampaignOut:
    return await campaigns.update(request.user.id, campaign_id_of(campaign_id), data)


@documented(errors=(409,))
@delete("/{campaign_id:str}", status_code=HTTP_200_OK)
async def delete_campaign(request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str]) -> Deleted:
    """200 with a body: the SPA's pages call `.json()` on the answer."""
    campaign = campaign_id_of(campaign_id)
    await campaigns.delete(request.user.id, campaign)
    return Deleted(id=campaign)


def status_route(action: str, target: str):
    async def change(request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str]) -> CampaignOut:
        return await campaigns.change_status(request.user.id, campaign_id_of(campaign_id), target)

    change.__name__ = change.__qualname__ = f"{action}_campaign"
    change.__doc__ = f"Make the campaign {target}, or 409 with the reason."
    return documented(errors=(409,))(post(f"/{{campaign_id:str}}/{action}", status_code=HTTP_200_OK)(change))


@documented(returns=list[ContactOut], paged=True, query=CONTACT_FILTERS[:2])
@get("/{campaign_id:str}/contacts")
async def list_members(
    request: AuthRequest, contacts: NamedDependency[ContactsService], campaign_id: FromPath[str]
) -> Response[bytes]:
    """The campaign's live contacts, paged and filtered like GET /api/contacts."""
    query = ContactQuery.parse(request.query_params, campaign_id=campaign_id_of(campaign_id))
    return page_response(request, await contacts.page(request.user.id, query), query.limit, encode_contacts)


@documented(errors=(409,))
@post("/{campaign_id:str}/contacts", status_code=HTTP_200_OK)
async def add_members(
    request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str], data: JSONBody[MembershipIn]
) -> CampaignOut:
    """Adds the caller's contacts; any id that is not one is 404 and nothing is added."""
    return await campaigns.change_members(request.user.id, campaign_id_of(campaign_id), data.contact_ids, add=True)


@documented(errors=(409,))
@delete("/{campaign_id:str}/contacts", status_code=HTTP_200_OK)
async def remove_members(
    request: AuthRequest, campaigns: Campaigns, campaign_id: FromPath[str], data: JSONBody[MembershipIn]
) -> CampaignOut:
    return await campaigns.change_members(request.user.id, campaign_id_of(campaign_id), data.contact_ids, add=False)


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

"""The dialer's lifespans. `campaign_runner_runtime` runs before the campaigns feature's (it hands CampaignsService
the dialer's CampaignRunner); `dialer_runtime` builds DialerService once, after campaigns, and handlers get it
injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.campaigns.service import CampaignRunner, CampaignsService
from service.dialer.scheduling import CampaignDialing
from service.dialer.service import DialerService
from service.web.services import Services


@asynccontextmanager
async def campaign_runner_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(CampaignDialing(app.state.pool), CampaignRunner)
    yield


@asynccontextmanager
async def dialer_runtime(app: Litestar) -> AsyncIterator[None]:
    services = Services.of(app)
    services.add(DialerService(app.state.pool, app.state.settings, services.get(CampaignsService)))
    yield


def dialer_dependencies(services: Services) -> dict[str, Provide]:
    return {"dialing": services.provide(DialerService)}

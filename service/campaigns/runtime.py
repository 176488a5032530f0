"""The campaigns feature's lifespan: builds CampaignsService once, after the pool and the campaign runner (the
dialer's, registered under campaigns' own CampaignRunner protocol); handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.campaigns.service import CampaignRunner, CampaignsService
from service.web.services import Services


@asynccontextmanager
async def campaigns_runtime(app: Litestar) -> AsyncIterator[None]:
    services = Services.of(app)
    services.add(CampaignsService(app.state.pool, services.get(CampaignRunner)))  # type: ignore[type-abstract]
    yield


def campaigns_dependencies(services: Services) -> dict[str, Provide]:
    return {"campaigns": services.provide(CampaignsService)}

"""The campaigns feature's lifespan: builds CampaignsService once, after the pool; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.campaigns.service import CampaignsService
from service.web.services import Services


@asynccontextmanager
async def campaigns_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(CampaignsService(app.state.pool))
    yield


def campaigns_dependencies(services: Services) -> dict[str, Provide]:
    return {"campaigns": services.provide(CampaignsService)}

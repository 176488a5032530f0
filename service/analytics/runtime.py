"""The analytics feature's lifespan: builds AnalyticsService once, after the pool; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.analytics.service import AnalyticsService
from service.web.services import Services


@asynccontextmanager
async def analytics_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(AnalyticsService(app.state.pool))
    yield


def analytics_dependencies(services: Services) -> dict[str, Provide]:
    return {"analytics": services.provide(AnalyticsService)}

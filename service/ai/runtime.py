"""The AI feature's lifespan: builds AIService once, after the pool and credits; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.ai.service import AIService
from service.config import Settings
from service.credits.service import CreditsService
from service.web.services import Services


@asynccontextmanager
async def ai_runtime(app: Litestar) -> AsyncIterator[None]:
    services = Services.of(app)
    settings: Settings = app.state.settings
    services.add(AIService(app.state.pool, app.state.openai, settings.ai_prices, services.get(CreditsService)))
    yield


def ai_dependencies(services: Services) -> dict[str, Provide]:
    return {"ai": services.provide(AIService)}

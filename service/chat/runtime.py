"""The chat feature's lifespan: builds ChatService once, after the pool; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.chat.service import ChatService
from service.web.services import Services


@asynccontextmanager
async def chat_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(ChatService(app.state.pool, app.state.settings))
    yield


def chat_dependencies(services: Services) -> dict[str, Provide]:
    return {"chat": services.provide(ChatService)}

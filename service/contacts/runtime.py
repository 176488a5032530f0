"""The contacts feature's lifespan: builds ContactsService once, after the pool; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.config import Settings
from service.contacts.service import ContactsService
from service.web.services import Services


@asynccontextmanager
async def contacts_runtime(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    Services.of(app).add(ContactsService(app.state.pool, settings.default_phone_region))
    yield


def contacts_dependencies(services: Services) -> dict[str, Provide]:
    return {"contacts": services.provide(ContactsService)}

"""The users feature's lifespan: builds UsersService once, after auth (whose AccountSecurity it uses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.config import Settings
from service.users.service import AccountSecurity, UsersService
from service.web.services import Services


@asynccontextmanager
async def users_runtime(app: Litestar) -> AsyncIterator[None]:
    services = Services.of(app)
    settings: Settings = app.state.settings
    security = services.get(AccountSecurity)  # type: ignore[type-abstract]
    services.add(UsersService(app.state.pool, security, settings.default_phone_region))
    yield


def users_dependencies(services: Services) -> dict[str, Provide]:
    return {"users": services.provide(UsersService)}

"""The dialer's lifespan: builds DialerService once, after the pool; handlers get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.dialer.service import DialerService
from service.web.services import Services


@asynccontextmanager
async def dialer_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(DialerService(app.state.pool, app.state.settings))
    yield


def dialer_dependencies(services: Services) -> dict[str, Provide]:
    return {"dialing": services.provide(DialerService)}

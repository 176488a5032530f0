"""The credits feature's lifespan: builds CreditsService once; the AI and calls features get it from Services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from service.credits.service import CreditsService
from service.web.services import Services


@asynccontextmanager
async def credits_runtime(app: Litestar) -> AsyncIterator[None]:
    Services.of(app).add(CreditsService())
    yield

"""The calls feature's lifespan: builds CallService once, after contacts, campaigns and credits (which it uses);
handlers, Twilio's webhooks included, get it injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from service.calls.service import CallService
from service.campaigns.service import CampaignsService
from service.contacts.service import ContactsService
from service.credits.service import CreditsService
from service.web.services import Services


@asynccontextmanager
async def calls_runtime(app: Litestar) -> AsyncIterator[None]:
    services = Services.of(app)
    state = app.state
    services.add(
        CallService(
            state.pool,
            state.settings,
            state.twilio,
            services.get(CreditsService),
            services.get(ContactsService),
            services.get(CampaignsService),
        )
    )
    yield


def calls_dependencies(services: Services) -> dict[str, Provide]:
    return {"calls": services.provide(CallService)}

"""The auth machinery's lifespan: built after the pool, torn down before it.

The revoked-session list is loaded before the first request is served, so a restart never forgets a logout.
Housekeeping (expired tokens, throttle windows, old sessions) is a periodic job: service/auth/jobs.py.
What handlers use is added to the app's Services (service/web/services.py) and injected from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request
from litestar.di import Provide

from service.auth.client_ip import ClientAddress
from service.auth.cookies import CookiePolicy
from service.auth.csrf import CsrfTokens, TrustedOrigins
from service.auth.middleware import Authenticator
from service.auth.passwords import Passwords
from service.auth.revocation import CHANNEL, RevokedSessions
from service.auth.routes import Delivery
from service.auth.service import AuthService
from service.auth.sessions import CurrentRoles, LiveSessions
from service.auth.throttle import Throttle
from service.config import Settings
from service.mail import Mailer
from service.users.service import AccountSecurity
from service.web.caller import Client
from service.web.services import Services


@asynccontextmanager
async def auth_runtime(app: Litestar) -> AsyncIterator[None]:
    state = app.state
    settings: Settings = state.settings
    services = Services.of(app)
    revoked = RevokedSessions(settings.access_token_ttl_seconds)
    passwords = Passwords(settings)
    csrf = CsrfTokens(settings)
    # The middleware and the guards run before dependency injection, so they find what they need on the app.
    state.current_roles = CurrentRoles(state.pool)
    state.authenticator = Authenticator(
        state.tokens,
        revoked,
        csrf,
        TrustedOrigins(settings.trusted_origins),
        LiveSessions(state.pool, settings.refresh_token_ttl_seconds),
        state.current_roles,
    )
    auth = AuthService(
        state.pool,
        settings,
        state.tokens,
        passwords,
        revoked,
        Throttle(settings),
        Mailer(settings.smtp_url, settings.mail_from, production=settings.is_production),
    )
    services.add(auth)
    services.add(auth, AccountSecurity)  # what the users feature needs of auth, without importing it
    services.add(Delivery(CookiePolicy(settings), csrf, settings.access_token_ttl_seconds))
    services.add(ClientAddress(settings.trusted_proxies))
    # Loaded on every (re)connect of the process's LISTEN connection, before the first request is served.
    state.realtime.subscribe(CHANNEL, revoked.on_notice, on_connect=revoked.load)
    revoked.on_revoke.append(state.events.end_sessions)
    try:
        yield
    finally:
        passwords.close()


def auth_dependencies(services: Services) -> dict[str, Provide]:
    """The app-level dependencies auth offers: its service, token delivery, and the caller's `client`."""

    def client(request: Request) -> Client:
        address: ClientAddress = services.get(ClientAddress)
        return Client(ip=address.of(request.scope), user_agent=request.headers.get("user-agent"))

    return {
        "auth": services.provide(AuthService),
        "delivery": services.provide(Delivery),
        "client": Provide(client, sync_to_thread=False),
    }

"""The auth machinery's lifespan: built after the pool, torn down before it.

The revoked-session list is loaded before the first request is served, so a restart never forgets a logout.
Housekeeping (expired tokens, throttle windows, old sessions) is a periodic job: service/auth/jobs.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar

from service.auth.client_ip import ClientAddress
from service.auth.cookies import CookiePolicy
from service.auth.csrf import CsrfTokens, TrustedOrigins
from service.auth.middleware import Authenticator
from service.auth.passwords import Passwords
from service.auth.revocation import RevocationFeed, RevokedSessions
from service.auth.service import AuthService
from service.auth.sessions import LiveSessions
from service.auth.throttle import Throttle
from service.config import Settings
from service.mail import Mailer

log = structlog.get_logger()


@asynccontextmanager
async def auth_runtime(app: Litestar) -> AsyncIterator[None]:
    state = app.state
    settings: Settings = state.settings
    revoked = RevokedSessions(settings.access_token_ttl_seconds)
    passwords = Passwords(settings)
    state.client_address = ClientAddress(settings.trusted_proxies)
    state.cookies = CookiePolicy(settings)
    state.authenticator = Authenticator(
        state.tokens,
        revoked,
        CsrfTokens(settings),
        TrustedOrigins(settings.trusted_origins),
        LiveSessions(state.pool, settings.refresh_token_ttl_seconds),
    )
    state.auth = AuthService(
        state.pool,
        settings,
        state.tokens,
        passwords,
        revoked,
        Throttle(settings),
        Mailer(settings.smtp_url, settings.mail_from, production=settings.is_production),
    )
    feed = RevocationFeed(state.dsn, revoked)
    await feed.start()
    try:
        yield
    finally:
        await feed.stop()
        passwords.close()

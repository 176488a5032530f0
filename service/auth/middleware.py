"""Authentication of every request that is not marked `exclude_from_auth`.

The access token comes from `Authorization: Bearer` (axios in the SPA) or the HttpOnly access cookie
(`fetch(..., {credentials: "include"})`). A write authenticated by the cookie must come from a trusted page
(csrf.py). A token past its expiry is accepted while its session lives (sessions.py).

This runs on every request, so it avoids work: headers are read straight from the ASGI scope, a verified token
is remembered until it expires (pyjwt costs about 90 us per token, a cache hit well under 1 us), and revocation is
a set lookup (see revocation.py). Revocation is checked on every request, cached token or not.
"""

from __future__ import annotations

import time
import uuid

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Scope

from service.auth.csrf import CSRF_HEADER, SAFE_METHODS, CsrfTokens, TrustedOrigins
from service.auth.revocation import RevokedSessions
from service.auth.sessions import CurrentRoles, LiveSessions
from service.auth.tokens import AccessClaims, ExpiredToken, InvalidToken, TokenService
from service.errors import Forbidden, Unauthenticated
from service.web.caller import AuthUser

ACCESS_COOKIE = "ri_access"
ADMIN = "admin"
# About 1.2 kB an entry: enough for every token seen within one token lifetime on one instance; beyond it the
# oldest entry goes (and that token is simply verified again).
MAX_CACHED_TOKENS = 10_000


def cookie_value(header: str, name: str) -> str | None:
    for pair in header.split(";"):
        key, _, value = pair.strip().partition("=")
        if key == name:
            return value or None
    return None


def credentials(scope: Scope) -> tuple[str | None, bool]:
    """The access token and whether it came from the cookie. A present Authorization header always wins."""
    authorization: bytes | None = None
    cookies: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"cookie":
            cookies.append(value)
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None, False
    if cookies:
        return cookie_value(b"; ".join(cookies).decode("latin-1"), ACCESS_COOKIE), True
    return None, False


def header_value(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


class Authenticator:
    """Access token -> AuthUser: a bounded cache of verified tokens in front of pyjwt, then the revocation set.

    An expired token is accepted while its session lives, which the database confirms once a minute per session.
    """

    def __init__(
        self,
        tokens: TokenService,
        revoked: RevokedSessions,
        csrf: CsrfTokens,
        origins: TrustedOrigins,
        live_sessions: LiveSessions,
        roles: CurrentRoles,
        max_cached: int = MAX_CACHED_TOKENS,
    ) -> None:
        self.tokens = tokens
        self.revoked = revoked
        self.csrf = csrf
        self.origins = origins
        self.live_sessions = live_sessions
        self.roles = roles
        self.max_cached = max_cached
        self._verified: dict[str, tuple[AuthUser, AccessClaims]] = {}

    def verify(self, token: str, *, allow_expired: bool = False) -> tuple[AuthUser, AccessClaims]:
        """Signature and claims (remembered, so pyjwt runs once per token), then expiry unless `allow_expired`.
        Not revocation. Raises InvalidToken (ExpiredToken past `exp`)."""
        hit = self._verified.get(token)
        if hit is None:
            claims = self.tokens.verify(token, allow_expired=True)
            hit = (user_of(claims), claims)
            if len(self._verified) >= self.max_cached:
                del self._verified[next(iter(self._verified))]  # dicts keep insertion order: the oldest goes
            self._verified[token] = hit
        if not allow_expired and hit[1].exp <= time.time():
            raise ExpiredToken("the token has expired")
        return hit

    async def authenticate(self, scope: Scope) -> tuple[AuthUser, AccessClaims]:
        token, from_cookie = credentials(scope)
        if not token:
            raise Unauthenticated("Authentication required", code="authentication_required")
        try:
            user, claims = self.verify(token)
        except ExpiredToken:
            user, claims = await self._from_live_session(token)
        except InvalidToken:
            raise Unauthenticated("Invalid access token", code="invalid_token") from None
        if user.session_id in self.revoked:
            raise Unauthenticated("This session has ended; log in again", code="session_revoked")
        if user.role == ADMIN:
            user = await self._current_role(user)
        if from_cookie and scope.get("method", "GET") not in SAFE_METHODS and not self._trusted_write(scope, user):
            raise Forbidden(
                "Cross-site request refused: send it from the app's own page, or with X-CSRF-Token",
                code="csrf_failed",
            )
        return user, claims

    async def _from_live_session(self, token: str) -> tuple[AuthUser, AccessClaims]:
        user, claims = self.verify(token, allow_expired=True)  # remembered by the first, failed, attempt
        role = await self.live_sessions.role_if_live(user.id, user.session_id)
        if role is None:
            raise Unauthenticated("The session has expired; log in again", code="session_expired")
        return AuthUser(id=user.id, role=role, session_id=user.session_id), claims

    async def _current_role(self, user: AuthUser) -> AuthUser:
        role = await self.roles.of(user.id)
        if role is None:
            raise Unauthenticated("This account no longer exists or is disabled", code="invalid_token")
        return user if role == user.role else AuthUser(id=user.id, role=role, session_id=user.session_id)

    def _trusted_write(self, scope: Scope, user: AuthUser) -> bool:
        return self.origins.allow(scope["headers"]) or self.csrf.valid(
            header_value(scope, CSRF_HEADER.encode()), user.session_id
        )


def user_of(claims: AccessClaims) -> AuthUser:
    try:
        return AuthUser(id=uuid.UUID(claims.sub), role=claims.role, session_id=uuid.UUID(claims.sid))
    except ValueError:
        raise InvalidToken("sub and sid must be ids") from None


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        authenticator: Authenticator = connection.scope["litestar_app"].state.authenticator
        user, claims = await authenticator.authenticate(connection.scope)
        return AuthenticationResult(user=user, auth=claims)

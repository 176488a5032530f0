"""Authentication of every request that is not marked `exclude_from_auth`.

The access token comes from `Authorization: Bearer` (axios in the SPA) or the HttpOnly access cookie
(`fetch(..., {credentials: "include"})`).
"""

from __future__ import annotations

import uuid

import msgspec
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from service.auth.tokens import InvalidToken, TokenService
from service.web.errors import Unauthorized

ACCESS_COOKIE = "ri_access"


class AuthUser(msgspec.Struct, frozen=True):
    """Who is calling: what every handler filters its queries by."""

    id: uuid.UUID
    role: str
    session_id: uuid.UUID

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer_token(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            return token.strip()
        return None
    return connection.cookies.get(ACCESS_COOKIE)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection)
        if not token:
            raise Unauthorized("Authentication required")
        tokens: TokenService = connection.app.state.tokens
        try:
            claims = tokens.verify(token)
        except InvalidToken:
            raise Unauthorized("Invalid or expired token") from None
        user = AuthUser(id=uuid.UUID(claims.sub), role=claims.role, session_id=uuid.UUID(claims.sid))
        return AuthenticationResult(user=user, auth=claims)

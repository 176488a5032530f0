"""Route guards for roles."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from service.errors import Forbidden


async def admin_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # Litestar's generated OPTIONS answer inherits the controller's guards but runs unauthenticated (no user in
    # scope): it only lists the allowed methods, so it needs no role.
    if connection.scope.get("method") == "OPTIONS":
        return
    # An administrator's token has its role read afresh by the authentication middleware, so a demotion is seen
    # at once. A token issued before a promotion still says "customer": the account's current role decides
    # (auth puts its CurrentRoles on the app, as the middleware finds its Authenticator there).
    if connection.user.is_admin:
        return
    if await connection.app.state.current_roles.of(connection.user.id) != "admin":
        raise Forbidden("Administrator role required")

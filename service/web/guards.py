"""Route guards for roles."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from service.errors import Forbidden


def admin_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    # Litestar's generated OPTIONS answer inherits the controller's guards but runs unauthenticated (no user in
    # scope): it only lists the allowed methods, so it needs no role.
    if connection.scope.get("method") == "OPTIONS":
        return
    if not connection.user.is_admin:
        raise Forbidden("Administrator role required")

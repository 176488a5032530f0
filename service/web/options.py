"""OPTIONS answers that list every method of a path.

Litestar 2 builds a path's OPTIONS handler when the path's first handler is registered, and that handler keeps
reading the methods of that first route: with GET and POST registered one after the other (a Router of
functions), `Allow` says "GET, OPTIONS" (litestar issue #4169, fixed in Litestar 3). Once the app is built, each
generated handler is pointed at the route that really serves its path.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def point_options_at_their_routes(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            function = handler.fn
            if function.__qualname__ != "HTTPRoute.create_options_handler.<locals>.options_handler":
                continue
            cells = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
            cells["self"].cell_contents = route

"""A page of a list as the API answers it: pre-encoded JSON and, when more follows, the next-page headers.

Shared by every feature's list routes (contacts, campaigns, a campaign's contacts), so none imports another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar import Request, Response

from service.web.pagination import Row, paginate

JSON = "application/json"


def page_response(
    request: Request, rows: Sequence[Row], limit: int, encode: Callable[[Sequence[Row]], bytes]
) -> Response[bytes]:
    """`rows` were fetched with limit + 1; `encode` turns the page's rows into the JSON array."""
    shown, headers = paginate(rows, limit, request.scope["path"], request.query_params)
    return Response(encode(shown), media_type=JSON, headers=headers)

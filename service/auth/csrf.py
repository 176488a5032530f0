"""Cross-site request refusal for cookie-authenticated writes.

A write (POST/PUT/PATCH/DELETE) authenticated by the access cookie is accepted when the browser says it comes
from a trusted page, or when it carries the CSRF token:

- Fetch Metadata: `Sec-Fetch-Site: same-origin` (the SPA served by this service) or `none` (typed by the user).
  Every current browser sends it and pages cannot forge it.
- Otherwise `Origin` must be one of the trusted origins: PUBLIC_BASE_URL's and CORS_ORIGINS (an SPA on another
  origin). A request with neither header is refused: browsers send at least one on a write.
- Or, as before, the signed double-submit token in `X-CSRF-Token`.

The cookies are also SameSite=Lax, so browsers do not attach them to cross-site POSTs at all; the check above
also covers sibling subdomains ("same-site"), which SameSite does not.

The token is an HMAC of the session id, handed to the browser in the readable `ri_csrf` cookie (and in the login
body, for an SPA served from another origin that cannot read the API's cookies). A write authenticated by the
access cookie must echo it in `X-CSRF-Token`. Another site can make the browser send the cookies, but can read
neither the cookie nor the body, and cannot forge the HMAC, even by planting a cookie from a sibling subdomain.
Bearer requests are exempt: a browser never attaches an Authorization header on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterable

from service.config import Settings

CSRF_COOKIE = "ri_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TRUSTED_FETCH_SITES = frozenset({b"same-origin", b"none"})


class TrustedOrigins:
    def __init__(self, origins: frozenset[str]) -> None:
        self.origins = frozenset(origin.encode() for origin in origins)

    def allow(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether the request comes from one of our own pages, by Fetch Metadata, else by Origin."""
        origin: bytes | None = None
        for name, value in headers:
            if name == b"sec-fetch-site" and value in TRUSTED_FETCH_SITES:
                return True
            if name == b"origin":
                origin = value
        return origin is not None and origin in self.origins


def _derive(secret: str) -> bytes:
    # A key of its own, so a CSRF token can never double as anything signed with the JWT key.
    return hashlib.sha256(b"reachimpact-csrf\0" + secret.encode()).digest()


class CsrfTokens:
    def __init__(self, settings: Settings) -> None:
        self.current = _derive(settings.jwt_secret)
        # Keys being rotated out still validate, so a rotation does not break open pages.
        self.keys = [self.current, *(_derive(s) for s in settings.jwt_previous_secrets)]

    def issue(self, session_id: uuid.UUID) -> str:
        return self._sign(self.current, session_id)

    def valid(self, token: str | None, session_id: uuid.UUID) -> bool:
        if not token:
            return False
        # Compared as bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
        candidate = token.encode()
        return any(hmac.compare_digest(candidate, self._sign(key, session_id).encode()) for key in self.keys)

    @staticmethod
    def _sign(key: bytes, session_id: uuid.UUID) -> str:
        digest = hmac.new(key, session_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

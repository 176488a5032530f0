"""The cookies browser clients get: access and refresh tokens (HttpOnly), and the readable CSRF token.

Each cookie goes only where it is needed: the access token to /api, the refresh token to /api/auth (so it never
travels with ordinary requests). SameSite=Lax keeps them off cross-site POSTs; Secure in production.
The access cookie lives as long as the session: its token is accepted past its own expiry while the session
lives (sessions.py), so the SPA's cookie-only calls keep working without a refresh.
"""

from __future__ import annotations

from litestar.datastructures import Cookie

from service.auth.csrf import CSRF_COOKIE
from service.auth.middleware import ACCESS_COOKIE
from service.config import Settings

REFRESH_COOKIE = "ri_refresh"
ACCESS_PATH = "/api"
REFRESH_PATH = "/api/auth"


class CookiePolicy:
    def __init__(self, settings: Settings) -> None:
        self.secure = settings.is_production
        self.refresh_ttl = settings.refresh_token_ttl_seconds

    def issued(self, access_token: str, refresh_token: str, csrf_token: str) -> list[Cookie]:
        return [
            self._cookie(ACCESS_COOKIE, access_token, ACCESS_PATH, self.refresh_ttl, httponly=True),
            self._cookie(REFRESH_COOKIE, refresh_token, REFRESH_PATH, self.refresh_ttl, httponly=True),
            # Readable by the SPA's JavaScript, which echoes it in X-CSRF-Token.
            self._cookie(CSRF_COOKIE, csrf_token, "/", self.refresh_ttl, httponly=False),
        ]

    def cleared(self) -> list[Cookie]:
        return [
            self._cookie(ACCESS_COOKIE, "", ACCESS_PATH, 0, httponly=True),
            self._cookie(REFRESH_COOKIE, "", REFRESH_PATH, 0, httponly=True),
            self._cookie(CSRF_COOKIE, "", "/", 0, httponly=False),
        ]

    def _cookie(self, key: str, value: str, path: str, max_age: int, *, httponly: bool) -> Cookie:
        return Cookie(
            key=key,
            value=value,
            path=path,
            max_age=max_age,
            expires=0 if max_age == 0 else None,
            httponly=httponly,
            secure=self.secure,
            samesite="lax",
        )

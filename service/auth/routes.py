"""/api/auth: register, login, refresh, logout, sessions, passwords.

Token delivery: the body always carries the access `token` (the SPA's axios sends it back as a Bearer header).
Browser clients (the default) also get the access and refresh tokens as HttpOnly cookies, and never see the
refresh token. Bearer clients (header `X-Auth-Mode: bearer`, or a refresh token sent in the body) get
`refreshToken` in the body and no cookies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from service.auth.cookies import REFRESH_COOKIE, CookiePolicy
from service.auth.csrf import CsrfTokens
from service.auth.middleware import credentials
from service.auth.schemas import (
    AuthOut,
    ForgotPasswordIn,
    LoginIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    SessionOut,
    VerifyOut,
)
from service.auth.service import AuthService, Issued
from service.errors import NotFound, Unauthenticated
from service.web.caller import AuthUser, Client
from service.web.openapi import documented

AUTH_MODE_HEADER = "x-auth-mode"
FORGOT_REPLY = {"message": "If an account exists for this address, a reset link is on its way."}


def wants_body_tokens(request: Request) -> bool:
    return request.headers.get(AUTH_MODE_HEADER, "").lower() == "bearer"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How issued tokens reach the client: in the body, and for browsers as cookies with a CSRF token."""

    cookies: CookiePolicy
    csrf: CsrfTokens
    expires_in: int

    def issued(self, issued: Issued, *, body_tokens: bool, status_code: int) -> Response[AuthOut]:
        csrf_token = self.csrf.issue(issued.session_id)
        body = AuthOut(
            **msgspec.structs.asdict(issued.user),
            token=issued.access_token,
            expires_in=self.expires_in,
            csrf_token=csrf_token,
            refresh_token=issued.refresh_token if body_tokens else None,
        )
        cookies = [] if body_tokens else self.cookies.issued(issued.access_token, issued.refresh_token, csrf_token)
        return Response(body, status_code=status_code, cookies=cookies)

    def signed_out(self) -> Response[None]:
        return Response(None, status_code=204, cookies=self.cookies.cleared())


AuthRequest = Request[AuthUser, object, State]


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @documented(
        errors=(409,),
        request_example={"email": "ada@example.com", "password": "correct horse battery", "fullName": "Ada Lovelace"},
    )
    @post("/register", exclude_from_auth=True, status_code=201, summary="Create an account and log in")
    async def register(
        self,
        request: Request,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        client: NamedDependency[Client],
        data: JSONBody[RegisterIn],
    ) -> Response[AuthOut]:
        issued = await auth.register(data, client)
        return delivery.issued(issued, body_tokens=wants_body_tokens(request), status_code=201)

    @documented(
        errors=(401, 403, 429), request_example={"email": "ada@example.com", "password": "correct horse battery"}
    )
    @post("/login", exclude_from_auth=True, status_code=200, summary="Log in with e-mail and password")
    async def login(
        self,
        request: Request,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        client: NamedDependency[Client],
        data: JSONBody[LoginIn],
    ) -> Response[AuthOut]:
        issued = await auth.login(data.email, data.password, client)
        return delivery.issued(issued, body_tokens=wants_body_tokens(request), status_code=200)

    @documented(errors=(401,))
    @post("/refresh", exclude_from_auth=True, status_code=200, summary="Rotate the refresh token")
    async def refresh(
        self,
        request: Request,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        client: NamedDependency[Client],
        data: JSONBody[RefreshIn | None] = None,
    ) -> Response[AuthOut]:
        # No CSRF token needed: a forged refresh only rotates the victim's cookies, and its answer is unreadable.
        from_body = data.refresh_token if data else None
        refresh_token = from_body or request.cookies.get(REFRESH_COOKIE)
        if not refresh_token:
            raise Unauthenticated("No refresh token", code="invalid_refresh_token")
        issued = await auth.refresh(refresh_token, client)
        body_tokens = bool(from_body) or wants_body_tokens(request)
        return delivery.issued(issued, body_tokens=body_tokens, status_code=200)

    @post("/logout", exclude_from_auth=True, status_code=204, summary="End this session")
    async def logout(
        self,
        request: Request,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        data: JSONBody[RefreshIn | None] = None,
    ) -> Response[None]:
        """Works with an expired access token too (send the refresh token), and always clears the cookies."""
        access_token, _ = credentials(request.scope)
        refresh_token = (data.refresh_token if data else None) or request.cookies.get(REFRESH_COOKIE)
        session = await auth.session_named(access_token, refresh_token)
        if session:
            session_id, user_id = session
            await auth.end_sessions(user_id, "logout", only=session_id)
        return delivery.signed_out()

    @post("/logout-all", status_code=204, summary="End every session of this account")
    async def logout_all(
        self, request: AuthRequest, auth: NamedDependency[AuthService], delivery: NamedDependency[Delivery]
    ) -> Response[None]:
        await auth.end_sessions(request.user.id, "logout_all")
        return delivery.signed_out()

    @get("/verify", summary="The current user")
    async def verify(
        self, request: AuthRequest, auth: NamedDependency[AuthService], delivery: NamedDependency[Delivery]
    ) -> VerifyOut:
        user = await auth.current_user(request.user.id)
        csrf_token = delivery.csrf.issue(request.user.session_id)
        return VerifyOut(**msgspec.structs.asdict(user), csrf_token=csrf_token)

    @get("/sessions", summary="The live sessions of this account")
    async def sessions(self, request: AuthRequest, auth: NamedDependency[AuthService]) -> list[SessionOut]:
        return await auth.sessions(request.user.id, request.user.session_id)

    @delete("/sessions/{session_id:uuid}", status_code=204, summary="End one session of this account")
    async def end_session(
        self,
        request: AuthRequest,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        session_id: FromPath[uuid.UUID],
    ) -> Response[None]:
        if not await auth.end_sessions(request.user.id, "ended_by_user", only=session_id):
            raise NotFound("Session")
        if session_id == request.user.session_id:
            return delivery.signed_out()
        return Response(None, status_code=204)

    @documented(errors=(429,))
    @put("/password", status_code=204, summary="Change the password (other sessions end)")
    async def change_password(
        self,
        request: AuthRequest,
        auth: NamedDependency[AuthService],
        client: NamedDependency[Client],
        data: JSONBody[PasswordChangeIn],
    ) -> None:
        user = request.user
        await auth.change_password(user.id, user.session_id, data.current_password, data.new_password, client)

    @documented(returns=dict[str, str], example=FORGOT_REPLY, errors=(429,))
    @post("/password/forgot", exclude_from_auth=True, status_code=202, summary="Mail a password-reset link")
    async def forgot_password(
        self, auth: NamedDependency[AuthService], client: NamedDependency[Client], data: JSONBody[ForgotPasswordIn]
    ) -> Response[dict]:
        mail = await auth.forgot_password(data.email, client)
        background = BackgroundTask(auth.send_quietly, mail) if mail else None
        return Response(FORGOT_REPLY, status_code=202, background=background)

    @post("/password/reset", exclude_from_auth=True, status_code=204, summary="Set a new password from the link")
    async def reset_password(
        self,
        auth: NamedDependency[AuthService],
        delivery: NamedDependency[Delivery],
        client: NamedDependency[Client],
        data: JSONBody[ResetPasswordIn],
    ) -> Response[None]:
        await auth.reset_password(data.token, data.password, client)
        return delivery.signed_out()

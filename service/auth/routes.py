"""/api/auth: register, login, refresh, logout, sessions, passwords.

Token delivery: the body always carries the access `token` (the SPA's axios sends it back as a Bearer header).
Browser clients (the default) also get the access and refresh tokens as HttpOnly cookies, and never see the
refresh token. Bearer clients (header `X-Auth-Mode: bearer`, or a refresh token sent in the body) get
`refreshToken` in the body and no cookies.
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from service.auth.cookies import REFRESH_COOKIE
from service.auth.middleware import AuthUser, credentials, user_of
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
from service.auth.service import AuthService, Client, Issued
from service.auth.tokens import InvalidToken
from service.users import repository as users
from service.web.errors import NotFound, Unauthorized

AUTH_MODE_HEADER = "x-auth-mode"
FORGOT_REPLY = {"message": "If an account exists for this address, a reset link is on its way."}


def client_of(request: Request) -> Client:
    return Client(ip=request.app.state.client_address.of(request.scope), user_agent=request.headers.get("user-agent"))


def wants_body_tokens(request: Request) -> bool:
    return request.headers.get(AUTH_MODE_HEADER, "").lower() == "bearer"


def auth_response(request: Request, issued: Issued, *, body_tokens: bool, status_code: int) -> Response[AuthOut]:
    state = request.app.state
    csrf_token = state.authenticator.csrf.issue(issued.session_id)
    body = AuthOut(
        **msgspec.structs.asdict(issued.user),
        token=issued.access_token,
        expires_in=state.settings.access_token_ttl_seconds,
        csrf_token=csrf_token,
        refresh_token=issued.refresh_token if body_tokens else None,
    )
    cookies = [] if body_tokens else state.cookies.issued(issued.access_token, issued.refresh_token, csrf_token)
    return Response(body, status_code=status_code, cookies=cookies)


def signed_out(request: Request) -> Response[None]:
    return Response(None, status_code=204, cookies=request.app.state.cookies.cleared())


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", exclude_from_auth=True, status_code=201, summary="Create an account and log in")
    async def register(self, request: Request, state: State, data: JSONBody[RegisterIn]) -> Response[AuthOut]:
        issued = await state.auth.register(data, client_of(request))
        return auth_response(request, issued, body_tokens=wants_body_tokens(request), status_code=201)

    @post("/login", exclude_from_auth=True, status_code=200, summary="Log in with e-mail and password")
    async def login(self, request: Request, state: State, data: JSONBody[LoginIn]) -> Response[AuthOut]:
        issued = await state.auth.login(data.email, data.password, client_of(request))
        return auth_response(request, issued, body_tokens=wants_body_tokens(request), status_code=200)

    @post("/refresh", exclude_from_auth=True, status_code=200, summary="Rotate the refresh token")
    async def refresh(
        self, request: Request, state: State, data: JSONBody[RefreshIn | None] = None
    ) -> Response[AuthOut]:
        # No CSRF token needed: a forged refresh only rotates the victim's cookies, and its answer is unreadable.
        from_body = data.refresh_token if data else None
        refresh_token = from_body or request.cookies.get(REFRESH_COOKIE)
        if not refresh_token:
            raise Unauthorized("No refresh token", code="invalid_refresh_token")
        issued = await state.auth.refresh(refresh_token, client_of(request))
        body_tokens = bool(from_body) or wants_body_tokens(request)
        return auth_response(request, issued, body_tokens=body_tokens, status_code=200)

    @post("/logout", exclude_from_auth=True, status_code=204, summary="End this session")
    async def logout(self, request: Request, state: State, data: JSONBody[RefreshIn | None] = None) -> Response[None]:
        """Works with an expired access token too (send the refresh token), and always clears the cookies."""
        session = await _session_of(request, state.auth, data.refresh_token if data else None)
        if session:
            session_id, user_id = session
            await state.auth.end_sessions(user_id, "logout", only=session_id)
        return signed_out(request)

    @post("/logout-all", status_code=204, summary="End every session of this account")
    async def logout_all(self, request: Request[AuthUser, object, State], state: State) -> Response[None]:
        await state.auth.end_sessions(request.user.id, "logout_all")
        return signed_out(request)

    @get("/verify", summary="The current user")
    async def verify(self, request: Request[AuthUser, object, State], state: State) -> VerifyOut:
        async with state.pool.acquire() as connection:
            user = await users.get_user(connection, request.user.id)
        if user is None:
            raise Unauthorized("This account no longer exists", code="invalid_token")
        csrf_token = state.authenticator.csrf.issue(request.user.session_id)
        return VerifyOut(**msgspec.structs.asdict(user), csrf_token=csrf_token)

    @get("/sessions", summary="The live sessions of this account")
    async def sessions(self, request: Request[AuthUser, object, State], state: State) -> list[SessionOut]:
        return await state.auth.sessions(request.user.id, request.user.session_id)

    @delete("/sessions/{session_id:uuid}", status_code=204, summary="End one session of this account")
    async def end_session(
        self, request: Request[AuthUser, object, State], state: State, session_id: FromPath[uuid.UUID]
    ) -> Response[None]:
        if not await state.auth.end_sessions(request.user.id, "ended_by_user", only=session_id):
            raise NotFound("Session not found")
        if session_id == request.user.session_id:
            return signed_out(request)
        return Response(None, status_code=204)

    @put("/password", status_code=204, summary="Change the password (other sessions end)")
    async def change_password(
        self, request: Request[AuthUser, object, State], state: State, data: JSONBody[PasswordChangeIn]
    ) -> None:
        user = request.user
        await state.auth.change_password(
            user.id, user.session_id, data.current_password, data.new_password, client_of(request)
        )

    @post("/password/forgot", exclude_from_auth=True, status_code=202, summary="Mail a password-reset link")
    async def forgot_password(self, request: Request, state: State, data: JSONBody[ForgotPasswordIn]) -> Response[dict]:
        mail = await state.auth.forgot_password(data.email, client_of(request))
        background = BackgroundTask(state.auth.send_quietly, mail) if mail else None
        return Response(FORGOT_REPLY, status_code=202, background=background)

    @post("/password/reset", exclude_from_auth=True, status_code=204, summary="Set a new password from the link")
    async def reset_password(self, request: Request, state: State, data: JSONBody[ResetPasswordIn]) -> Response[None]:
        await state.auth.reset_password(data.token, data.password)
        return signed_out(request)


async def _session_of(
    request: Request, auth: AuthService, refresh_token: str | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(session id, user id) named by an access token we signed, expired or not, or else by a refresh token."""
    access_token, _ = credentials(request.scope)
    if access_token:
        try:
            user = user_of(request.app.state.tokens.verify(access_token, allow_expired=True))
            return user.session_id, user.id
        except InvalidToken:
            pass
    refresh_token = refresh_token or request.cookies.get(REFRESH_COOKIE)
    return await auth.session_of_refresh_token(refresh_token) if refresh_token else None

"""/api/user (the caller's profile and credits) and /api/admin (accounts, for administrators)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from service.auth.guards import admin_only
from service.auth.middleware import AuthUser
from service.auth.routes import client_of
from service.users import repository as repo
from service.users.schemas import (
    AdminUserOut,
    CreditChangeIn,
    CreditChangeOut,
    CreditsOut,
    ProfileUpdate,
    UserOut,
    UserPage,
    UserSettings,
)
from service.users.service import UsersService
from service.web.errors import Forbidden

HISTORY_LENGTH = 50
AuthRequest = Request[AuthUser, object, State]


def users_of(state: State) -> UsersService:
    return UsersService(state.pool, state.auth, state.settings.default_phone_region)


class UserController(Controller):
    path = "/api/user"
    tags = ["user"]

    @get("/profile", summary="The caller's profile")
    async def get_profile(self, request: AuthRequest, state: State) -> UserOut:
        return await users_of(state).profile(request.user.id)

    @put("/profile", summary="Change profile fields (a new email needs currentPassword)")
    async def update_profile(self, request: AuthRequest, state: State, data: JSONBody[ProfileUpdate]) -> UserOut:
        return await users_of(state).update_profile(request.user, data, client_of(request))

    @get("/settings", summary="The caller's settings (notifications, interface language, theme)")
    async def get_settings(self, request: AuthRequest, state: State) -> UserSettings:
        return await users_of(state).settings(request.user.id)

    @put("/settings", summary="Change settings: what is sent is merged into what is stored")
    async def update_settings(self, request: AuthRequest, state: State, data: JSONBody[UserSettings]) -> UserSettings:
        return await users_of(state).update_settings(request.user.id, data)

    @get("/credits", summary="The caller's balance and latest ledger entries")
    async def get_credits(self, request: AuthRequest, state: State) -> CreditsOut:
        async with state.pool.acquire() as connection:
            balance = await repo.credits_of(connection, request.user.id)
            history = await repo.credit_history(connection, request.user.id, HISTORY_LENGTH)
        return CreditsOut(credits=balance or 0, history=history)

    @post("/credits", status_code=200, summary="Spend credits (negative amount); administrators may also add")
    async def change_credits(
        self, request: AuthRequest, state: State, data: JSONBody[CreditChangeIn]
    ) -> CreditChangeOut:
        if data.amount > 0 and not request.user.is_admin:
            raise Forbidden("Only administrators can grant credits", code="forbidden")
        kind = "grant" if data.amount > 0 else "debit"
        return await users_of(state).change_credits(
            request.user.id, data.amount, kind=kind, reason=data.reason, actor_id=request.user.id
        )


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [admin_only]

    @get("/users", summary="Accounts, newest first")
    async def list_users(
        self,
        state: State,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        after: Annotated[uuid.UUID | None, Parameter(description="the last id of the previous page")] = None,
        search: Annotated[str | None, Parameter(max_length=200, description="part of an email or name")] = None,
    ) -> UserPage:
        async with state.pool.acquire() as connection:
            items = await repo.list_users(connection, limit=limit, after=after, search=search)
        return UserPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)

    @post("/users/{user_id:uuid}/disable", status_code=200, summary="Disable an account; its sessions end")
    async def disable(self, request: AuthRequest, state: State, user_id: FromPath[uuid.UUID]) -> AdminUserOut:
        return await users_of(state).set_disabled(request.user, user_id, True)

    @post("/users/{user_id:uuid}/enable", status_code=200, summary="Enable a disabled account")
    async def enable(self, request: AuthRequest, state: State, user_id: FromPath[uuid.UUID]) -> AdminUserOut:
        return await users_of(state).set_disabled(request.user, user_id, False)

    @post("/users/{user_id:uuid}/credits", status_code=200, summary="Grant (or, negative, take back) credits")
    async def change_credits(
        self, request: AuthRequest, state: State, user_id: FromPath[uuid.UUID], data: JSONBody[CreditChangeIn]
    ) -> CreditChangeOut:
        kind = "grant" if data.amount > 0 else "adjustment"
        return await users_of(state).change_credits(
            user_id, data.amount, kind=kind, reason=data.reason, actor_id=request.user.id
        )

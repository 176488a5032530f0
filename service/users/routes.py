"""/api/user (the caller's profile and credits) and /api/admin (accounts, for administrators)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

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
from service.web.caller import AuthUser, Client
from service.web.guards import admin_only
from service.web.openapi import documented

HISTORY_LENGTH = 50
AuthRequest = Request[AuthUser, object, State]


class UserController(Controller):
    path = "/api/user"
    tags = ["user"]

    @get("/profile", summary="The caller's profile")
    async def get_profile(self, request: AuthRequest, users: NamedDependency[UsersService]) -> UserOut:
        return await users.profile(request.user.id)

    @documented(errors=(409, 429))
    @put("/profile", summary="Change profile fields (a new email needs currentPassword)")
    async def update_profile(
        self,
        request: AuthRequest,
        users: NamedDependency[UsersService],
        client: NamedDependency[Client],
        data: JSONBody[ProfileUpdate],
    ) -> UserOut:
        return await users.update_profile(request.user, data, client)

    @get("/settings", summary="The caller's settings (notifications, interface language, theme)")
    async def get_settings(self, request: AuthRequest, users: NamedDependency[UsersService]) -> UserSettings:
        return await users.settings(request.user.id)

    @put("/settings", summary="Change settings: what is sent is merged into what is stored")
    async def update_settings(
        self, request: AuthRequest, users: NamedDependency[UsersService], data: JSONBody[UserSettings]
    ) -> UserSettings:
        return await users.update_settings(request.user.id, data)

    @get("/credits", summary="The caller's balance and latest ledger entries")
    async def get_credits(self, request: AuthRequest, users: NamedDependency[UsersService]) -> CreditsOut:
        return await users.credits(request.user.id, HISTORY_LENGTH)

    @documented(errors=(402, 409), request_example={"amount": -3, "reason": "script"})
    @post("/credits", status_code=200, summary="Spend credits (negative amount); administrators may also add")
    async def change_credits(
        self, request: AuthRequest, users: NamedDependency[UsersService], data: JSONBody[CreditChangeIn]
    ) -> CreditChangeOut:
        return await users.own_credits(request.user, data.amount, data.reason)


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [admin_only]

    @get("/users", summary="Accounts, newest first")
    async def list_users(
        self,
        users: NamedDependency[UsersService],
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        after: Annotated[uuid.UUID | None, Parameter(description="the last id of the previous page")] = None,
        search: Annotated[str | None, Parameter(max_length=200, description="part of an email or name")] = None,
    ) -> UserPage:
        return await users.page(limit=limit, after=after, search=search)

    @post("/users/{user_id:uuid}/disable", status_code=200, summary="Disable an account; its sessions end")
    async def disable(
        self, request: AuthRequest, users: NamedDependency[UsersService], user_id: FromPath[uuid.UUID]
    ) -> AdminUserOut:
        return await users.set_disabled(request.user, user_id, True)

    @post("/users/{user_id:uuid}/enable", status_code=200, summary="Enable a disabled account")
    async def enable(
        self, request: AuthRequest, users: NamedDependency[UsersService], user_id: FromPath[uuid.UUID]
    ) -> AdminUserOut:
        return await users.set_disabled(request.user, user_id, False)

    @documented(errors=(402, 409))
    @post("/users/{user_id:uuid}/credits", status_code=200, summary="Grant (or, negative, take back) credits")
    async def change_credits(
        self,
        request: AuthRequest,
        users: NamedDependency[UsersService],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[CreditChangeIn],
    ) -> CreditChangeOut:
        kind = "grant" if data.amount > 0 else "adjustment"
        return await users.change_credits(user_id, data.amount, kind=kind, reason=data.reason, actor_id=request.user.id)

"""Rules for profiles, credits and account administration."""

from __future__ import annotations

import uuid
from typing import Protocol

import asyncpg
import msgspec
from msgspec import UNSET, UnsetType

from service.errors import (
    Conflict,
    Forbidden,
    InsufficientCredits,
    NotFound,
    ValidationFailed,
)
from service.users import repository as repo
from service.users.schemas import (
    AdminUserOut,
    CreditChangeOut,
    CreditsOut,
    ProfileUpdate,
    UserOut,
    UserPage,
    UserSettings,
    normalize_email,
)
from service.web.caller import AuthUser, Client


class AccountSecurity(Protocol):
    """What this feature needs of `auth` (AuthService provides it), so that users never imports auth."""

    async def confirm_password(self, user_id: uuid.UUID, password: str, client: Client) -> None: ...

    async def revoke_sessions(
        self, connection: asyncpg.Connection, user_id: uuid.UUID, reason: str
    ) -> list[uuid.UUID]: ...

    def forget(self, session_ids: list[uuid.UUID]) -> None: ...


class UsersService:
    def __init__(self, pool: asyncpg.Pool, security: AccountSecurity, default_phone_region: str) -> None:
        self.pool = pool
        self.security = security
        self.default_phone_region = default_phone_region

    async def profile(self, user_id: uuid.UUID) -> UserOut:
        async with self.pool.acquire() as connection:
            user = await repo.get_user(connection, user_id)
        if user is None:
            raise NotFound("User")
        return user

    async def update_profile(self, caller: AuthUser, data: ProfileUpdate, client: Client) -> UserOut:
        changes = data.profile_columns(self.default_phone_region)
        if isinstance(data.full_name, str):
            changes["full_name"] = data.full_name.strip()
        if data.email is not UNSET:
            changes.update(await self._email_change(caller, normalize_email(data.email), data.current_password, client))
        if not changes:
            return await self.profile(caller.id)
        try:
            async with self.pool.acquire() as connection:
                return await repo.update_user(connection, caller.id, changes)
        except asyncpg.UniqueViolationError:
            raise Conflict("Another account already uses this email", code="email_taken") from None

    async def _email_change(
        self, caller: AuthUser, email: str, current_password: str | UnsetType, client: Client
    ) -> dict[str, object]:
        """The columns to write for a new e-mail: proving the password first, as the account's key changes."""
        if email == (await self.profile(caller.id)).email:
            return {}
        if isinstance(current_password, UnsetType):
            raise ValidationFailed.field(
                "currentPassword",
                "required to change the email",
                message="Changing the email needs your current password (currentPassword)",
                code="current_password_required",
            )
        await self.security.confirm_password(caller.id, current_password, client)
        return {"email": email, "email_verified": False}

    async def settings(self, user_id: uuid.UUID) -> UserSettings:
        async with self.pool.acquire() as connection:
            return msgspec.convert(await repo.settings_of(connection, user_id), UserSettings)

    async def update_settings(self, user_id: uuid.UUID, data: UserSettings) -> UserSettings:
        if not isinstance(data.security, UnsetType) and data.security.two_factor_enabled is True:
            raise ValidationFailed.field(
                "security.twoFactorEnabled",
                "two-factor authentication is not available yet",
            )
        async with self.pool.acquire() as connection:
            stored = await repo.merge_settings(connection, user_id, msgspec.to_builtins(data))
        return msgspec.convert(stored, UserSettings)

    async def own_credits(self, caller: AuthUser, amount: int, reason: str | None) -> CreditChangeOut:
        """A user spends their credits; only an administrator may add to their own balance."""
        if amount > 0 and not caller.is_admin:
            raise Forbidden("Only administrators can grant credits")
        kind = "grant" if amount > 0 else "debit"
        return await self.change_credits(caller.id, amount, kind=kind, reason=reason, actor_id=caller.id)

    async def change_credits(
        self, user_id: uuid.UUID, amount: int, *, kind: str, reason: str | None, actor_id: uuid.UUID
    ) -> CreditChangeOut:
        if amount == 0:
            raise ValidationFailed.field("amount", "must not be zero")
        async with self.pool.acquire() as connection:
            try:
                entry = await repo.change_credits(
                    connection, user_id, amount, kind=kind, reason=reason, actor_id=actor_id
                )
            except asyncpg.NumericValueOutOfRangeError:
                raise Conflict("The balance would exceed its maximum", code="credits_overflow") from None
            balance = None if entry else await repo.credits_of(connection, user_id)
        if entry is None:
            if balance is None:
                raise NotFound("User")
            raise InsufficientCredits(-amount, balance)
        return CreditChangeOut(credits=entry.balance_after, entry=entry)

    async def credits(self, user_id: uuid.UUID, history_length: int) -> CreditsOut:
        async with self.pool.acquire() as connection:
            balance = await repo.credits_of(connection, user_id)
            history = await repo.credit_history(connection, user_id, history_length)
        return CreditsOut(credits=balance or 0, history=history)

    async def page(self, *, limit: int, after: uuid.UUID | None, search: str | None) -> UserPage:
        async with self.pool.acquire() as connection:
            items = await repo.list_users(connection, limit=limit, after=after, search=search)
        return UserPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)

    async def set_disabled(self, admin: AuthUser, user_id: uuid.UUID, disabled: bool) -> AdminUserOut:
        """Disabling ends every session of the user at once."""
        if disabled and user_id == admin.id:
            raise Forbidden("You cannot disable your own account", code="cannot_disable_self")
        async with self.pool.acquire() as connection, connection.transaction():
            user = await repo.set_disabled(connection, user_id, disabled)
            if user is None:
                raise NotFound("User")
            ended = await self.security.revoke_sessions(connection, user_id, "disabled") if disabled else []
        self.security.forget(ended)
        return user

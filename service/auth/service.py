"""The rules of accounts and sessions: register, log in, refresh, log out, change and reset passwords.

No database connection is held while a password is hashed (tens of milliseconds): a login flood must not
exhaust the pool that every other request needs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import asyncpg
import structlog

from service.auth import repository as repo
from service.auth.middleware import user_of
from service.auth.passwords import Passwords, Verdict
from service.auth.revocation import RevokedSessions
from service.auth.schemas import RegisterIn, SessionOut
from service.auth.throttle import Throttle
from service.auth.tokens import InvalidToken, TokenService
from service.config import Settings
from service.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from service.mail import Mail, Mailer, MailError
from service.users import repository as users
from service.users.schemas import UserOut, normalize_email
from service.web.caller import Client

log = structlog.get_logger()

INVALID_CREDENTIALS = "Invalid email or password"
RESET_NEEDED_MESSAGE = (
    "This account has no password here yet (it signed in with Google or phone, or its password could not be"
    " imported). Use “Forgot password” to set one."
)


@dataclass(frozen=True, slots=True)
class Issued:
    user: UserOut
    access_token: str
    refresh_token: str
    session_id: uuid.UUID


class AuthService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        tokens: TokenService,
        passwords: Passwords,
        revoked: RevokedSessions,
        throttle: Throttle,
        mailer: Mailer,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.tokens = tokens
        self.passwords = passwords
        self.revoked = revoked
        self.throttle = throttle
        self.mailer = mailer

    # --- logging in -------------------------------------------------------------------------------------------

    async def register(self, data: RegisterIn, client: Client) -> Issued:
        email = normalize_email(data.email)
        profile = data.profile_columns(self.settings.default_phone_region)
        password_hash = await self.passwords.hash(data.password)
        async with self.pool.acquire() as connection, connection.transaction():
            user_id = await users.insert_user(
                connection, email=email, full_name=data.full_name.strip(), profile=profile, password_hash=password_hash
            )
            if user_id is None:
                raise Conflict(
                    "An account with this email already exists; log in or reset your password", code="email_taken"
                )
            if self.settings.initial_ai_credits:
                await users.change_credits(
                    connection,
                    user_id,
                    self.settings.initial_ai_credits,
                    kind="grant",
                    reason="Welcome credits",
                    actor_id=None,
                )
            await self.throttle.succeeded(connection, email, client.ip)  # the address it registered from is its own
            return await self._open_session(connection, user_id, client)

    async def login(self, email: str, password: str, client: Client) -> Issued:
        email = normalize_email(email)
        user, new_hash = await self._check_password(email, password, client)
        if user.disabled:
            raise Forbidden("This account is disabled", code="account_disabled")
        async with self.pool.acquire() as connection, connection.transaction():
            await self._accept_password(connection, user, new_hash, client)
            return await self._open_session(connection, user.id, client)

    async def _check_password(self, email: str, password: str, client: Client) -> tuple[repo.Credentials, str | None]:
        """The user if the password is theirs, and the hash to store instead of theirs, if any. Raises 401/429.

        The limits are read before queueing for a hashing slot and again once it is held; only a wrong password
        counts, recorded before the slot is given up (service/auth/throttle.py)."""
        async with self.pool.acquire() as connection:
            await self.throttle.check_login(connection, email, client.ip)
            user = await repo.credentials_by_email(connection, email)

        async def admit() -> None:
            async with self.pool.acquire() as connection:
                await self.throttle.check_login(connection, email, client.ip)

        async def judged(verdict: Verdict) -> None:
            if user is None or not verdict.ok:
                async with self.pool.acquire() as connection:
                    await self.throttle.failed_login(connection, email, client.ip)

        verdict = await self.passwords.check(user.stored if user else None, password, admit=admit, judged=judged)
        if user is None or not verdict.ok:
            if user is not None and not verdict.usable:
                raise Unauthenticated(RESET_NEEDED_MESSAGE, code="password_reset_required")
            raise Unauthenticated(INVALID_CREDENTIALS, code="invalid_credentials")
        return user, verdict.new_hash

    async def _accept_password(
        self, connection: asyncpg.Connection, user: repo.Credentials, new_hash: str | None, client: Client
    ) -> None:
        await self.throttle.succeeded(connection, user.email, client.ip)
        if new_hash:
            await repo.upgrade_password_hash(connection, user, new_hash)

    async def _open_session(self, connection: asyncpg.Connection, user_id: uuid.UUID, client: Client) -> Issued:
        session_id, refresh_token = await repo.open_session(
            connection, user_id, self.settings.refresh_token_ttl_seconds, client.user_agent, client.ip
        )
        user = await users.record_sign_in(connection, user_id)
        return self._issue(user, session_id, refresh_token)

    def _issue(self, user: UserOut, session_id: uuid.UUID, refresh_token: str) -> Issued:
        access_token, _ = self.tokens.issue(user_id=user.id, session_id=session_id, role=user.role)
        return Issued(user, access_token, refresh_token, session_id)

    # --- sessions ---------------------------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, client: Client) -> Issued:
        """Rotate the refresh token. Presenting a spent one revokes its whole session (it was stolen, or leaked)."""
        async with self.pool.acquire() as connection, connection.transaction():
            state = await repo.lock_refresh_token(connection, refresh_token)
            if state is None or (not state.usable and not state.used):
                raise Unauthenticated("Invalid or expired refresh token; log in again", code="invalid_refresh_token")
            if not state.used:
                new_token = await repo.rotate(
                    connection, state, self.settings.refresh_token_ttl_seconds, client.user_agent, client.ip
                )
                user = await users.get_user(connection, state.user_id)
                assert user is not None  # locked through its session, so it cannot have gone
                return self._issue(user, state.session_id, new_token)
            ended = await repo.revoke_sessions(connection, state.user_id, "refresh_token_reuse", only=state.session_id)
        # After the commit: the revocation must be durable before the refusal goes out.
        self.revoked.add(ended)
        log.warning(
            "refresh token reused: session revoked", user_id=str(state.user_id), session_id=str(state.session_id)
        )
        raise Unauthenticated(
            "This refresh token was already used; the session has been ended for safety", code="refresh_token_reused"
        )

    async def session_named(
        self, access_token: str | None, refresh_token: str | None
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(session id, user id) named by an access token we signed, expired or not, or else by a refresh token."""
        if access_token:
            try:
                user = user_of(self.tokens.verify(access_token, allow_expired=True))
                return user.session_id, user.id
            except InvalidToken:
                pass
        if not refresh_token:
            return None
        async with self.pool.acquire() as connection:
            return await repo.session_of_refresh_token(connection, refresh_token)

    async def current_user(self, user_id: uuid.UUID) -> UserOut:
        async with self.pool.acquire() as connection:
            user = await users.get_user(connection, user_id)
        if user is None:
            raise Unauthenticated("This account no longer exists", code="invalid_token")
        return user

    async def end_sessions(
        self,
        user_id: uuid.UUID,
        reason: str,
        *,
        only: uuid.UUID | None = None,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        async with self.pool.acquire() as connection, connection.transaction():
            session_ids = await repo.revoke_sessions(connection, user_id, reason, only=only, keep=keep)
        self.revoked.add(session_ids)
        return session_ids

    async def revoke_sessions(self, connection: asyncpg.Connection, user_id: uuid.UUID, reason: str) -> list[uuid.UUID]:
        """Inside the caller's transaction (e.g. disabling the account); hand the ids to `forget` after the commit."""
        return await repo.revoke_sessions(connection, user_id, reason)

    def forget(self, session_ids: list[uuid.UUID]) -> None:
        """Refuse these sessions' tokens from now on (this instance at once, the others by NOTIFY)."""
        self.revoked.add(session_ids)

    async def sessions(self, user_id: uuid.UUID, current: uuid.UUID) -> list[SessionOut]:
        async with self.pool.acquire() as connection:
            return await repo.active_sessions(connection, user_id, current)

    # --- passwords --------------------------------------------------------------------------------------------

    async def confirm_password(self, user_id: uuid.UUID, password: str, client: Client) -> None:
        """For sensitive changes by a logged-in user: counts against the same limits as a login."""
        async with self.pool.acquire() as connection:
            known = await repo.credentials_by_id(connection, user_id)
        if known is None:
            raise Unauthenticated("Authentication required", code="authentication_required")
        user, new_hash = await self._check_password(known.email, password, client)
        async with self.pool.acquire() as connection, connection.transaction():
            await self._accept_password(connection, user, new_hash, client)

    async def change_password(
        self, user_id: uuid.UUID, session_id: uuid.UUID, current: str, new: str, client: Client
    ) -> None:
        """Set a new password; every other session ends, this one stays."""
        await self.confirm_password(user_id, current, client)
        new_hash = await self.passwords.hash(new)
        async with self.pool.acquire() as connection, connection.transaction():
            await repo.set_password(connection, user_id, new_hash)
            ended = await repo.revoke_sessions(connection, user_id, "password_changed", keep=session_id)
        self.revoked.add(ended)

    async def forgot_password(self, email: str, client: Client) -> Mail | None:
        """The reset mail to send, if the account exists and may log in. Limited per e-mail and per address."""
        email = normalize_email(email)
        async with self.pool.acquire() as connection, connection.transaction():
            await self.throttle.reset_requested(connection, email, client.ip)
            user = await repo.credentials_by_email(connection, email)
            if user is None or user.disabled:
                return None
            token = await repo.create_reset_token(connection, user.id, self.settings.password_reset_ttl_seconds)
        return self._reset_mail(email, token)

    def _reset_mail(self, email: str, token: str) -> Mail:
        separator = "&" if "?" in self.settings.password_reset_url else "?"
        link = f"{self.settings.password_reset_url}{separator}{urlencode({'token': token})}"
        minutes = self.settings.password_reset_ttl_seconds // 60
        return Mail(
            to=email,
            subject="Reset your ReachImpact password",
            text=(
                "Someone (hopefully you) asked to reset the password of your ReachImpact account.\n\n"
                f"To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n"
                "The link works once. If you did not ask for it, ignore this mail: your password stays as it is.\n"
            ),
        )

    async def send_quietly(self, mail: Mail) -> None:
        """Runs after the response is sent, so the reply's timing does not tell whether the account exists."""
        try:
            await self.mailer.send(mail)
        except MailError as exc:
            log.error("password reset mail not sent", error=str(exc))

    async def reset_password(self, token: str, new_password: str, client: Client) -> None:
        """Set the password from a mailed token, once; every session of the user ends. Invalid tokens are
        counted per address, so nobody can probe for a live one at the rate the database answers."""
        async with self.pool.acquire() as connection:
            await self.throttle.check_reset(connection, client.ip)
            live = await repo.reset_token_is_live(connection, token)
            if not live:
                await self.throttle.failed_reset(connection, client.ip)
        if not live:
            raise _invalid_reset_token()
        # Hashed only for a live token, so garbage tokens cannot make the server hash.
        new_hash = await self.passwords.hash(new_password)
        async with self.pool.acquire() as connection, connection.transaction():
            user_id = await repo.spend_reset_token(connection, token)
            if user_id is None:
                raise _invalid_reset_token()
            await repo.set_password(connection, user_id, new_hash)
            email = await users.mark_email_verified(connection, user_id)  # following the mailed link proves it
            await self.throttle.forget_account(connection, email)
            ended = await repo.revoke_sessions(connection, user_id, "password_reset")
        self.revoked.add(ended)


def _invalid_reset_token() -> ValidationFailed:
    return ValidationFailed.field(
        "token",
        "invalid, used or expired",
        message="This reset link is invalid, used or expired; ask for a new one",
        code="invalid_reset_token",
    )

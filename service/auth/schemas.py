"""Request and response bodies of /api/auth, camelCase on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from service.users.schemas import Email, Name, ProfileFields, UserOut
from service.web.schemas import CamelStruct

# Long enough for passphrases, short enough that nobody makes the server hash a megabyte.
MAX_PASSWORD_LENGTH = 1024
NewPassword = Annotated[str, Meta(min_length=8, max_length=MAX_PASSWORD_LENGTH)]
AnyPassword = Annotated[str, Meta(max_length=MAX_PASSWORD_LENGTH)]
OpaqueToken = Annotated[str, Meta(max_length=200)]


class RegisterIn(ProfileFields, kw_only=True):
    """The account and every profile field the SPA's register form sends; any other field is a 400.

    `role` is accepted and ignored: everybody registers as a customer (the answer shows the role given).
    """

    email: Email
    password: NewPassword
    full_name: Name
    role: Annotated[str, Meta(max_length=50)] | UnsetType = UNSET


class LoginIn(CamelStruct):
    email: Annotated[str, Meta(max_length=254)]
    password: AnyPassword


class RefreshIn(CamelStruct):
    refresh_token: OpaqueToken | None = None


class PasswordChangeIn(CamelStruct):
    current_password: AnyPassword
    new_password: NewPassword


class ForgotPasswordIn(CamelStruct):
    email: Annotated[str, Meta(max_length=254)]


class ResetPasswordIn(CamelStruct):
    token: OpaqueToken
    password: NewPassword


class AuthOut(UserOut, kw_only=True, omit_defaults=True):
    """The user's own fields at the top level (the SPA keeps the whole body as its user), plus the tokens."""

    token: str
    # Seconds until `token` expires: refresh a little before.
    expires_in: int
    csrf_token: str
    # Only for bearer clients (X-Auth-Mode: bearer, or a refresh token sent in the body).
    refresh_token: str | None = None


class VerifyOut(UserOut, kw_only=True):
    """The user itself, plus the CSRF token for clients that prefer sending the header."""

    csrf_token: str


class SessionOut(CamelStruct):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool

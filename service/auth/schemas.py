"""Request and response bodies of /api/auth, camelCase on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import Meta

from service.users.schemas import Email, Name, Phone, ShortText, UserOut
from service.web.schemas import CamelStruct

# Long enough for passphrases, short enough that nobody makes the server hash a megabyte.
MAX_PASSWORD_LENGTH = 1024
NewPassword = Annotated[str, Meta(min_length=8, max_length=MAX_PASSWORD_LENGTH)]
AnyPassword = Annotated[str, Meta(max_length=MAX_PASSWORD_LENGTH)]
OpaqueToken = Annotated[str, Meta(max_length=200)]


class RegisterIn(CamelStruct):
    """`role` and any other field the client sends are ignored: everybody registers as a customer."""

    email: Email
    password: NewPassword
    full_name: Name
    company_name: ShortText | None = None
    phone: Phone | None = None


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


class AuthOut(CamelStruct, omit_defaults=True):
    user: UserOut
    token: str
    # Seconds until `token` expires: refresh a little before.
    expires_in: int
    csrf_token: str
    # Only for bearer clients (X-Auth-Mode: bearer, or a refresh token sent in the body).
    refresh_token: str | None = None


class VerifyOut(CamelStruct):
    user: UserOut
    csrf_token: str


class SessionOut(CamelStruct):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool

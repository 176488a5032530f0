"""Users on the wire: the profile the SPA reads and edits, credits, and the admin views. Never a secret."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
import phonenumbers
from msgspec import UNSET, Meta, UnsetType

from service.errors import ValidationFailed
from service.phones import e164, parse_phone
from service.web.schemas import CamelStruct

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, Meta(max_length=254, pattern=EMAIL_PATTERN)]
# At least one visible character.
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")]
ShortText = Annotated[str, Meta(max_length=200)]
LongText = Annotated[str, Meta(max_length=5000)]
Phone = Annotated[str, Meta(max_length=32)]
Url = Annotated[str, Meta(max_length=2048)]
ImageUrl = Annotated[str, Meta(max_length=2048, pattern=r"^https?://")]
LanguageTag = Annotated[str, Meta(max_length=35)]
CreditAmount = Annotated[int, Meta(ge=-1_000_000, le=1_000_000)]
Reason = Annotated[str, Meta(max_length=500)]


class UserOut(CamelStruct):
    """Field order = column order: rows are built positionally from `SELECT <these fields>`.

    Attributes are column names; the wire names are the SPA's (`shared/schema.ts`): `phoneNumber`, `aiCredits`.
    """

    id: uuid.UUID
    email: str
    full_name: str | None
    company_name: str | None
    phone: str | None = msgspec.field(name="phoneNumber")
    industry: str | None
    preferred_language: str | None
    company_description: str | None
    company_website: str | None
    products_services: str | None
    target_market: str | None
    sales_pitch: str | None
    profile_picture: str | None
    role: str
    credits: int = msgspec.field(name="aiCredits")
    email_verified: bool
    auth_providers: list[str]
    last_sign_in_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AdminUserOut(UserOut):
    disabled: bool
    password_reset_required: bool
    firebase_id: str | None


class ProfileFields(CamelStruct, forbid_unknown_fields=True):
    """The profile fields a user edits, at register and in PUT /api/user/profile. Absent fields stay as they are.

    Unknown fields are refused (400 naming them), so nothing a client sends is dropped silently. `phoneNumber` is
    the SPA's name for the phone; `phone` is accepted too.
    """

    company_name: ShortText | UnsetType | None = UNSET
    phone_number: Phone | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET
    industry: ShortText | UnsetType | None = UNSET
    preferred_language: LanguageTag | UnsetType | None = UNSET
    company_description: LongText | UnsetType | None = UNSET
    company_website: Url | UnsetType | None = UNSET
    products_services: LongText | UnsetType | None = UNSET
    target_market: LongText | UnsetType | None = UNSET
    sales_pitch: LongText | UnsetType | None = UNSET
    profile_picture: ImageUrl | UnsetType | None = UNSET

    def profile_columns(self, region: str) -> dict[str, object]:
        """The profile columns to write, phone in E.164 (not the e-mail or password, which have their own rules)."""
        skip = {"email", "current_password", "password", "role", "phone", "phone_number", "full_name"}
        changes: dict[str, object] = {
            name: value
            for name in self.__struct_fields__
            if name not in skip and (value := getattr(self, name)) is not UNSET
        }
        phone_field, phone = (
            ("phoneNumber", self.phone_number) if self.phone_number is not UNSET else ("phone", self.phone)
        )
        if phone is not UNSET:
            changes["phone"] = normalize_phone(phone, region, field=phone_field)
        return changes


class ProfileUpdate(ProfileFields, kw_only=True):
    """PUT /api/user/profile: null clears an optional field. A new e-mail needs the current password."""

    full_name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    current_password: Annotated[str, Meta(max_length=1024)] | UnsetType = UNSET


class NotificationSettings(CamelStruct, forbid_unknown_fields=True, omit_defaults=True):
    email: bool | UnsetType = UNSET
    sms: bool | UnsetType = UNSET
    appointments: bool | UnsetType = UNSET
    campaigns: bool | UnsetType = UNSET


class SecuritySettings(CamelStruct, forbid_unknown_fields=True, omit_defaults=True):
    # Only `false` is accepted until two-factor authentication exists (storing `true` would promise it).
    two_factor_enabled: bool | UnsetType = UNSET


class UserSettings(CamelStruct, forbid_unknown_fields=True, omit_defaults=True):
    """The SPA's settings page. A PUT merges what it sends into what is stored; absent keys stay."""

    notifications: NotificationSettings | UnsetType = UNSET
    ui_language: LanguageTag | UnsetType = UNSET
    theme: Literal["light", "dark", "system"] | UnsetType = UNSET
    security: SecuritySettings | UnsetType = UNSET


class LedgerEntryOut(CamelStruct):
    id: uuid.UUID
    delta: int
    balance_after: int
    kind: str
    reason: str | None
    actor_id: uuid.UUID | None
    created_at: datetime


class CreditsOut(CamelStruct):
    credits: int
    history: list[LedgerEntryOut]


class CreditChangeIn(CamelStruct):
    amount: CreditAmount
    reason: Reason | None = None


class CreditChangeOut(CamelStruct):
    credits: int
    entry: LedgerEntryOut


class UserPage(CamelStruct):
    items: list[AdminUserOut]
    next_cursor: uuid.UUID | None


def columns(struct: type[msgspec.Struct], table: str = "") -> str:
    """The SELECT list for a struct whose fields are column names, in field order."""
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + name for name in struct.__struct_fields__)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_phone(raw: str | None, region: str, *, field: str = "phoneNumber") -> str | None:
    """E.164, as every phone number is stored; a number without a country code is read in `region`."""
    if raw is None or not raw.strip():
        return None
    number = parse_phone(raw, region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationFailed.field(field, f"{raw!r} is not a valid phone number")
    return e164(number)

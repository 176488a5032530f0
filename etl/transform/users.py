"""``users`` profile documents, joined to their Firebase Auth user (by uid, else by e-mail)."""

from __future__ import annotations

from typing import Any

from etl.snapshot import Document
from etl.transform.common import CREATED_AT, UPDATED_AT
from etl.transform.convert import boolean, choice, email, non_negative, phone_e164, string_list, text, timestamp
from etl.transform.engine import Field, Spec
from service.db.vocabulary import USER_ROLES


def _reset_without_hash(row: dict[str, Any], _: Document) -> None:
    # No Firebase scrypt hash (federated sign-in, redacted or dropped by the export): no password can work.
    row["password_reset_required"] = row["legacy_password_hash"] is None


USERS = Spec(
    name="users",
    pattern="users",
    table="users",
    uses_auth=True,
    required=("email",),
    unique=("email",),
    derive=_reset_without_hash,
    fields=(
        Field("email", ("email",), email, auth="email", auth_first=True),
        Field("full_name", ("fullName", "displayName", "name"), text, auth="display_name"),
        Field("company_name", ("companyName", "company"), text),
        Field("phone", ("phone", "phoneNumber"), phone_e164, auth="phone_number"),
        Field("industry", ("industry",), text),
        Field("preferred_language", ("preferredLanguage", "language"), text),
        Field("company_description", ("companyDescription",), text),
        Field("company_website", ("companyWebsite", "website"), text),
        Field("products_services", ("productsServices", "products"), text),
        Field("target_market", ("targetMarket",), text),
        Field("sales_pitch", ("salesPitch",), text),
        Field("profile_picture", ("profileImage", "photoURL", "profilePicture", "photoUrl"), text, auth="photo_url"),
        Field(
            "role",
            ("role",),
            choice(USER_ROLES, {"user": "customer", "member": "customer"}),
            default="customer",
            auth="role_claim",
            auth_first=True,  # the claim is what Firebase's security rules enforced
        ),
        Field("credits", ("credits", "aiCredits"), non_negative, default=0),
        Field("email_verified", (), boolean, default=False, auth="email_verified"),
        Field("disabled", (), boolean, default=False, auth="disabled"),
        Field("auth_providers", (), string_list, default=[], auth="providers"),
        Field("last_sign_in_at", (), timestamp, auth="last_signed_in_at"),
        Field("legacy_password_hash", (), text, auth="password_hash"),
        Field("legacy_password_salt", (), text, auth="salt"),
        Field("password_reset_required", (), boolean, default=True),
        Field("created_at", CREATED_AT.names, timestamp, auth="created_at"),
        UPDATED_AT,
    ),
)
